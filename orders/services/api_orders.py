"""Orders a reseller's program places through /api/v1/: paid from its wallet at once, one order per
caller's order number however often the request is retried."""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import ApiKey
from accounts.services import InsufficientBalance
from catalog.models import Sku
from kamen.outbound import check_public_url
from payments import services as payment_services

from ..models import Order
from .checkout import place_order


class DuplicateOrder(Exception):
    """The caller's order number is taken by an order for something else."""


class NotEnoughBalance(Exception):
    pass


@dataclass(frozen=True)
class ApiOrder:
    order: Order
    created: bool  # False: the caller's number named an order placed before, which is returned


def check_callback_url(url: str) -> str:
    """Only http(s) to public addresses: a callback must never reach into the shop's own network."""
    if url:
        check_public_url(url, allow_private=settings.API_CALLBACKS_TO_PRIVATE_ADDRESSES)
    return url


def place_api_order(
    sku: Sku,
    *,
    key: ApiKey,
    quantity: int,
    client_order_no: str,
    callback_url: str = "",
    buyer_input: dict[str, str] | None = None,
    buyer_ip: str | None = None,
) -> ApiOrder:
    """Place and pay an order from the key owner's wallet, all or nothing.

    Refusals change nothing: CheckoutError / OutOfStock (stock, limits, input fields, the blacklist
    for the key owner's e-mail or the caller's `buyer_ip`), NotEnoughBalance,
    DuplicateOrder, ValidationError (the callback URL). A retry of a placed order returns it.
    """
    user = key.user
    earlier = _earlier(user, client_order_no, sku=sku, quantity=quantity)
    if earlier is not None:
        return ApiOrder(order=earlier, created=False)
    try:
        check_callback_url(callback_url)
    except ValidationError as error:
        raise ValidationError({"callback_url": error.messages}) from None
    origin = {"api_key": key, "client_order_no": client_order_no, "callback_url": callback_url}
    try:
        with transaction.atomic():
            placed = place_order(
                sku,
                quantity=quantity,
                user=user,
                contact_email=user.email,
                payment_method="balance",
                buyer_input=buyer_input,
                origin=origin,
                buyer_ip=buyer_ip,
            )
            if placed.payment.state != placed.payment.State.CONFIRMED:
                payment_services.pay_with_balance(placed.payment, user=user)
    except InsufficientBalance:
        raise NotEnoughBalance(_("Your wallet balance does not cover this order.")) from None
    except IntegrityError:
        # The same number posted twice at once: the other request's order won; answer with it.
        earlier = _earlier(user, client_order_no, sku=sku, quantity=quantity)
        if earlier is None:
            raise
        return ApiOrder(order=earlier, created=False)
    placed.order.refresh_from_db()
    return ApiOrder(order=placed.order, created=True)


def _earlier(user, client_order_no: str, *, sku: Sku, quantity: int) -> Order | None:
    earlier = Order.objects.filter(user=user, client_order_no=client_order_no).first()
    if earlier is not None and (earlier.sku_id != sku.pk or earlier.quantity != quantity):
        raise DuplicateOrder(
            _("Order number %(number)s is already used for another order.") % {"number": client_order_no}
        )
    return earlier
