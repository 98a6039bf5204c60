"""Checkout: an order priced on the server, its codes held and its payment opened, all or nothing."""

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from catalog import cache as catalog_cache
from catalog import pricing
from catalog.buyer_fields import clean_answers
from catalog.models import Sku
from catalog.selectors import buyer_fields, sku_stock
from kamen import shop_settings
from kamen.money import cny
from payments import services as payment_services
from payments.models import Payment
from payments.providers import FREE, get_provider

from ..locks import lock_order
from ..lookup_passwords import hash_lookup_password
from ..models import ORDER_PURPOSE, Order, OrderEvent, OrderPayment
from . import risk
from .coupons import CouponChoice, check_coupon, hold_coupon, quote_with_coupon, release_coupon
from .reservation import CheckoutError, OutOfStock, release_codes, reserve_codes
from .states import transition

OUT_OF_STOCK = _("Sorry, this item is out of stock (or fewer are left than you asked for).")


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    payment: Payment


def place_order(
    sku: Sku,
    *,
    quantity: int,
    user: User | None,
    contact_email: str,
    lookup_password: str = "",
    payment_method: str,
    buyer_input: dict[str, str] | None = None,
    coupon: CouponChoice | None = None,
    origin: dict | None = None,
    buyer_ip: str | None = None,
    device: str = "",
) -> PlacedOrder:
    """Price the order on the server, reserve its codes, hold its coupon and open its payment — all or
    nothing. An order that costs nothing (a 100% coupon) is paid at once, without a gateway.

    `buyer_input` holds the answers to the product's input fields, keyed by their form names;
    `origin` the fields of an order placed through the API (its key, the caller's number, callback);
    `buyer_ip` and `device` (a device fingerprint) where the order comes from, for the risk rules.
    A blacklisted buyer (BuyerBlocked) or one past the SKU's daily limit (DailyLimitReached) is refused
    with nothing written.
    """
    product = sku.product
    if user is None and not shop_settings.current().guest_checkout:
        raise CheckoutError(_("Please sign in to buy: this shop sells to members only."))
    try:
        answers = clean_answers(buyer_fields(product), buyer_input or {})
    except ValidationError as error:
        raise CheckoutError(" ".join(error.messages)) from None
    if not (product.min_per_order <= quantity <= product.max_per_order):
        raise CheckoutError(
            _("You can buy between %(low)s and %(high)s at a time.")
            % {"low": product.min_per_order, "high": product.max_per_order}
        )
    stock = catalog_cache.product_stock(sku.product_id, sku_stock)[1]
    if not sku.can_supply(quantity, stock=stock[sku.pk].free if sku.pk in stock else 0):
        # A cheap early answer from the cached count (exact, as of the last committed change of the
        # product's codes): late buyers in a sale cost no query. The reservation below decides.
        raise OutOfStock(str(OUT_OF_STOCK))
    if coupon is not None:
        check_coupon(coupon, sku=sku, user=user)  # a used-up coupon is refused before any other query
    # After the cached stock answer, so the latecomers of a sale still cost no query.
    buyer = risk.Buyer(user=user, email=user.email if user else contact_email, ip=buyer_ip, device=device)
    risk.check_not_blocked(buyer)
    if coupon is None:
        quote = pricing.quote(sku, quantity, user=user)
    else:
        quote = quote_with_coupon(sku, quantity, user=user, choice=coupon)
    free = quote.total.amount == 0
    provider = get_provider(payment_method)
    if not free and (provider is None or not provider.is_available(user=user)):
        raise CheckoutError(_("This payment method is not available."))
    # Hash before the transaction so row locks are held only briefly.
    password_hash = hash_lookup_password(lookup_password)
    with transaction.atomic():
        risk.check_daily_limit(sku, quantity=quantity, buyer=buyer)
        order = _create_order(
            sku,
            user=user,
            contact_email=buyer.email,
            buyer_ip=buyer_ip,
            device=device,
            lookup_password=password_hash,
            quantity=quantity,
            unit_price=quote.unit_price,
            total=quote.total,
            pricing=quote.snapshot(),
            payment_method=FREE if free else payment_method,
            buyer_input=[answer.as_dict() for answer in answers if answer.value],
            **(origin or {}),
        )
        if quote.coupon is not None:
            hold_coupon(order, coupon, discount=quote.coupon_discount)
        payment = open_payment(order, provider=order.payment_method)
        if free:
            payment = payment_services.confirm_free_payment(payment).payment
    return PlacedOrder(order=order, payment=payment)


def place_reward_order(sku: Sku, *, user: User, reward: str, points: int) -> PlacedOrder:
    """One piece of `sku` as a points-mall reward: an order of nothing to pay, its code held and its
    payment confirmed at once without a gateway, in the caller's transaction."""
    try:
        clean_answers(buyer_fields(sku.product), {})
    except ValidationError:
        raise CheckoutError(_("This reward needs details only a checkout asks for.")) from None
    retail = pricing.quote(sku, 1).retail_unit_price
    snapshot = {"currency": retail.currency.code, "quantity": 1, "retail_unit_price": str(retail.amount)}
    snapshot |= {"unit_price": "0.00", "points_reward": reward, "points": points}
    snapshot |= {"saving": str(retail.amount), "coupon_discount": "0.00", "total": "0.00"}
    order = _create_order(
        sku,
        user=user,
        contact_email=user.email,
        lookup_password="",
        quantity=1,
        unit_price=cny(0),
        total=cny(0),
        pricing=snapshot,
        payment_method=FREE,
        buyer_input=[],
    )
    payment = open_payment(order, provider=FREE)
    return PlacedOrder(order=order, payment=payment_services.confirm_free_payment(payment).payment)


def _create_order(sku: Sku, *, user: User | None, quantity: int, **fields) -> Order:
    """The order row, its first event and its codes held — or OutOfStock, rolling the caller back."""
    now = timezone.now()
    order = Order.objects.create(
        user=user,
        sku=sku,
        product_title=sku.product.title,
        sku_name=sku.name,
        quantity=quantity,
        created_at=now,
        expires_at=now + timedelta(minutes=shop_settings.reservation_minutes()),
        **fields,
    )
    OrderEvent.objects.create(order=order, type=OrderEvent.Type.PLACED, to_status=order.status, actor=user)
    if sku.holds_codes and reserve_codes(order, quantity) != quantity:
        raise OutOfStock(str(OUT_OF_STOCK))
    return order


def open_payment(order: Order, *, provider: str) -> Payment:
    """Open a payment for an order; its gateway trade lives exactly as long as the order's reservation."""
    payment = payment_services.create_payment(
        ORDER_PURPOSE,
        amount=order.total,
        provider=provider,
        description=f"{order.product_title} {order.sku_name} × {order.quantity}",
        reference=order.number,
        user=order.user,
        created_at=order.created_at,
        expires_at=order.expires_at,
    )
    OrderPayment.objects.create(order=order, payment=payment)
    return payment


def cancel_order(order: Order, *, actor: User | None, reason: str = "") -> Order:
    """The buyer gives up an unpaid order; its codes go back to stock at once.

    The status is checked again under the row lock: an order whose payment was confirmed while the
    cancel waited for that lock stays paid, and is returned unchanged.
    """
    with transaction.atomic():
        order = lock_order(order.pk)
        if order.status != Order.Status.PENDING_PAYMENT:
            return order
        transition(order, Order.Status.CANCELLED, event=OrderEvent.Type.CANCELLED, actor=actor, reason=reason)
        release_codes(order)
        release_coupon(order)
    return order
