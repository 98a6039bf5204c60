"""Order writes: checkout with atomic code reservation, the state machine, delivery, expiry.

Every move of an order goes through `transition`, inside a transaction, with an OrderEvent row.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from accounts.models import User
from catalog import crypto, pricing
from catalog.cache import catalog_changed
from catalog.models import CardCode, Sku
from catalog.selectors import available_stock
from kamen.tasks import enqueue

from .models import TRANSITIONS, IllegalTransition, Order, OrderEvent

logger = logging.getLogger(__name__)


class LookupPasswordHasher(Argon2PasswordHasher):
    """Argon2id at OWASP's lighter setting (19 MiB, 2 passes, 1 lane) for guest lookup passwords.

    A lookup password is a second factor beside an unguessable order number and a rate-limited
    lookup; the default 100 MiB x 8 lanes would cost every checkout ~200 ms of CPU during a sale.
    Verification reads the parameters from the hash, so `check_password` needs nothing special.
    """

    memory_cost = 19 * 1024
    time_cost = 2
    parallelism = 1


LOOKUP_PASSWORD_HASHER = LookupPasswordHasher()


class CheckoutError(Exception):
    """A checkout refused for a reason the shopper should read; nothing was written."""


class OutOfStock(CheckoutError):
    pass


# ---------------------------------------------------------------------------------------------------
# State machine
# ---------------------------------------------------------------------------------------------------
def transition(order: Order, to_status: str, *, actor: User | None = None, event: str = "", **data) -> Order:
    """Apply one allowed move to a locked order and record it; raises IllegalTransition otherwise."""
    from_status = order.status
    if to_status not in TRANSITIONS.get(from_status, set()):
        raise IllegalTransition(f"order {order.number}: {from_status} → {to_status} is not allowed")
    now = timezone.now()
    order.status = to_status
    fields = ["status"]
    if to_status == Order.Status.PAID and order.paid_at is None:
        order.paid_at = now
        fields.append("paid_at")
    if to_status == Order.Status.DELIVERED:
        order.delivered_at = now
        fields.append("delivered_at")
    order.save(update_fields=fields)
    OrderEvent.objects.create(
        order=order, type=event or to_status, from_status=from_status, to_status=to_status, actor=actor, data=data
    )
    return order


def record_event(order: Order, event: str, *, actor: User | None = None, **data) -> OrderEvent:
    """Record something that happened to an order without moving its status (refund requests, ...)."""
    return OrderEvent.objects.create(
        order=order, type=event, from_status=order.status, to_status=order.status, actor=actor, data=data
    )


def _locked(order_id: int) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("sku").get(pk=order_id)


# ---------------------------------------------------------------------------------------------------
# Reservation
# ---------------------------------------------------------------------------------------------------
def reserve_codes(order: Order, count: int) -> int:
    """Hold `count` free codes of the order's Sku for it, or none at all; returns how many were held.

    SKIP LOCKED lets concurrent checkouts take different rows without waiting for each other; the
    conditional UPDATE with its row count is the guard that a code is never held twice.
    """
    if count <= 0:
        return 0
    code_ids = list(
        CardCode.objects.select_for_update(skip_locked=True)
        .filter(sku_id=order.sku_id, status=CardCode.Status.AVAILABLE)
        .order_by("id")
        .values_list("id", flat=True)[:count]
    )
    if len(code_ids) < count:
        return 0
    held = CardCode.objects.filter(id__in=code_ids, status=CardCode.Status.AVAILABLE).update(
        status=CardCode.Status.RESERVED, order=order, reserved_until=order.expires_at
    )
    if held != count:
        # Cannot happen while the rows are locked; if it ever does, undo the whole checkout.
        raise OutOfStock(_("Not enough stock left."))
    catalog_changed()
    return held


def release_codes(order: Order) -> int:
    released = CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).update(
        status=CardCode.Status.AVAILABLE, order=None, reserved_until=None
    )
    if released:
        catalog_changed()
    return released


# ---------------------------------------------------------------------------------------------------
# Checkout
# ---------------------------------------------------------------------------------------------------
def place_order(
    sku: Sku,
    *,
    quantity: int,
    user: User | None,
    contact_email: str,
    lookup_password: str = "",
    payment_method: str,
):
    """Price the order on the server, reserve its codes and open a payment — all or nothing.

    Returns the Payment to start; its `order` is the new order.
    """
    from payments import services as payment_services
    from payments.providers import get_provider

    product = sku.product
    if not (product.min_per_order <= quantity <= product.max_per_order):
        raise CheckoutError(
            _("You can buy between %(low)s and %(high)s at a time.")
            % {"low": product.min_per_order, "high": product.max_per_order}
        )
    provider = get_provider(payment_method)
    if provider is None or not provider.is_available(user=user):
        raise CheckoutError(_("This payment method is not available."))
    if not sku.is_manual and available_stock(sku) < quantity:
        # A cheap early answer; the reservation below is what actually decides.
        raise OutOfStock(_("Sorry, this item is out of stock (or fewer are left than you asked for)."))
    quote = pricing.quote(sku, quantity, user=user)
    # Hash before the transaction so row locks are held only briefly.
    password_hash = make_password(lookup_password, hasher=LOOKUP_PASSWORD_HASHER) if lookup_password else ""
    now = timezone.now()
    with transaction.atomic():
        order = Order.objects.create(
            user=user,
            contact_email=user.email if user else contact_email,
            lookup_password=password_hash,
            sku=sku,
            product_title=product.title,
            sku_name=sku.name,
            quantity=quantity,
            unit_price=quote.unit_price,
            total=quote.total,
            payment_method=payment_method,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.ORDER_RESERVATION_MINUTES),
        )
        OrderEvent.objects.create(order=order, type="placed", to_status=order.status, actor=user)
        if not sku.is_manual and reserve_codes(order, quantity) != quantity:
            raise OutOfStock(_("Sorry, this item is out of stock (or fewer are left than you asked for)."))
        payment = payment_services.create_payment(order, provider=payment_method)
    return payment


def cancel_order(order: Order, *, actor: User | None, reason: str = "") -> Order:
    """The buyer gives up an unpaid order; its codes go back to stock at once."""
    with transaction.atomic():
        order = _locked(order.pk)
        transition(order, Order.Status.CANCELLED, actor=actor, reason=reason)
        release_codes(order)
    return order


# ---------------------------------------------------------------------------------------------------
# Payment
# ---------------------------------------------------------------------------------------------------
def mark_paid(order: Order, *, payment_id: int) -> Order:
    """Called by `payments.services.confirm_payment` only, in its transaction, with the order locked.

    A payment on an expired or cancelled order is a late payment: its codes are reserved again when
    stock allows, otherwise the order goes to the staff queue with the reason. It is never dropped.
    """
    late = order.status in (Order.Status.EXPIRED, Order.Status.CANCELLED)
    transition(order, Order.Status.PAID, event="paid_late" if late else "paid", payment=payment_id)
    if late and not order.sku.is_manual:
        missing = order.quantity - CardCode.objects.filter(order=order).count()
        if reserve_codes(order, missing) != missing:
            _fail_delivery(order, _("Paid after the order expired and the stock is gone; refund or restock."))
            return order
    transaction.on_commit(lambda: _enqueue_delivery(order.pk))
    return order


def _enqueue_delivery(order_id: int) -> None:
    from .tasks import deliver_order_task

    enqueue(deliver_order_task, order_id)


# ---------------------------------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------------------------------
def deliver_order(order_id: int) -> Order:
    """Turn a paid order's reserved codes into sold ones and the order into delivered. Safe to run twice."""
    with transaction.atomic():
        order = _locked(order_id)
        if order.status != Order.Status.PAID:
            return order
        if order.sku.is_manual:
            return transition(order, Order.Status.AWAITING_MANUAL)
        held = CardCode.objects.filter(order=order, status__in=[CardCode.Status.RESERVED, CardCode.Status.SOLD])
        missing = order.quantity - held.count()
        if missing and reserve_codes(order, missing) != missing:
            return _fail_delivery(order, _("Not enough codes in stock to complete the order."))
        CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).update(
            status=CardCode.Status.SOLD, sold_at=timezone.now(), reserved_until=None
        )
        transition(order, Order.Status.DELIVERED)
        _mail_when_committed(order)
    return order


def deliver_manually(order: Order, *, content: str, actor: User) -> Order:
    """Staff record what they delivered by hand for a manual-delivery or failed order."""
    if not content.strip():
        raise ValueError(_("Enter what was delivered."))
    with transaction.atomic():
        order = _locked(order.pk)
        order.manual_delivery_encrypted = crypto.encrypt(content.strip())
        order.save(update_fields=["manual_delivery_encrypted"])
        transition(order, Order.Status.DELIVERED, actor=actor, event="delivered_manually")
        _mail_when_committed(order)
    return order


def retry_delivery(order: Order, *, actor: User) -> Order:
    """Staff send a failed order through stock delivery again, e.g. after importing codes."""
    with transaction.atomic():
        order = _locked(order.pk)
        if order.status != Order.Status.DELIVERY_FAILED or order.sku.is_manual:
            raise IllegalTransition(_("Only a failed stock-delivery order can be retried."))
        held = CardCode.objects.filter(order=order).count()
        if reserve_codes(order, order.quantity - held) != order.quantity - held:
            raise OutOfStock(_("Still not enough codes in stock."))
        CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).update(
            status=CardCode.Status.SOLD, sold_at=timezone.now(), reserved_until=None
        )
        order.abnormal_reason = ""
        order.save(update_fields=["abnormal_reason"])
        transition(order, Order.Status.DELIVERED, actor=actor, event="delivery_retried")
        _mail_when_committed(order)
    return order


def _fail_delivery(order: Order, reason: str) -> Order:
    order.abnormal_reason = reason
    order.save(update_fields=["abnormal_reason"])
    logger.warning("order %s needs staff: %s", order.number, reason)
    return transition(order, Order.Status.DELIVERY_FAILED, reason=reason)


def _notify_delivered(order_id: int) -> None:
    from .tasks import send_delivery_email_task

    enqueue(send_delivery_email_task, order_id)


# ---------------------------------------------------------------------------------------------------
# The delivery e-mail: exactly one per delivered order, however many tasks and sweeps try
# ---------------------------------------------------------------------------------------------------
# Audit rows tell the e-mail's story: due (in the delivering transaction), claimed (a worker is about
# to send), failed (it could not; anyone may try again), sent. The latest of them decides.
EMAIL_DUE, EMAIL_CLAIMED, EMAIL_FAILED, EMAIL_SENT = "email_due", "email_claimed", "email_failed", "email_sent"
EMAIL_EVENTS = (EMAIL_CLAIMED, EMAIL_FAILED, EMAIL_SENT)


def _mail_when_committed(order: Order) -> None:
    """Record in the delivering transaction that the buyer is owed an e-mail, and send it after commit.

    The record is what the sweeper looks for when the task never ran (broker down at commit, message
    lost with its worker).
    """
    record_event(order, EMAIL_DUE)
    transaction.on_commit(lambda: _notify_delivered(order.pk))


def claim_delivery_email(order_id: int, *, now=None) -> Order | None:
    """Take the right to send a delivered order's e-mail; None if it is sent or someone else is sending.

    Commits the claim before anything is sent, so no row lock is held while the mail server is
    talked to. A claim older than MAIL_CLAIM_STALE_AFTER belongs to a worker that died mid-send and
    may be taken over (the one case in which a buyer could get the e-mail twice).
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = _locked(order_id)
        if order.status != Order.Status.DELIVERED:
            return None
        last = order.events.filter(type__in=EMAIL_EVENTS).order_by("-id").first()
        if last is not None and last.type == EMAIL_SENT:
            return None
        if last is not None and last.type == EMAIL_CLAIMED and last.created_at > now - settings.MAIL_CLAIM_STALE_AFTER:
            return None
        record_event(order, EMAIL_CLAIMED)
    return order


def record_delivery_email(order_id: int, *, sent: bool, error: str = "") -> None:
    """After a claimed send: record that it went out, or that it failed and may be tried again."""
    with transaction.atomic():
        order = _locked(order_id)
        if sent:
            record_event(order, EMAIL_SENT)
        else:
            record_event(order, EMAIL_FAILED, error=error[:300])


def sweep_unsent_delivery_emails(*, now=None, limit: int = 500) -> list[int]:
    """Enqueue the e-mail of delivered orders still owed one: its task was lost or gave up.

    Looks at orders paid within MAIL_SWEEP_WITHIN and delivered at least MAIL_SWEEP_AFTER ago; the
    task's claim makes sure each buyer still gets exactly one.
    """
    now = now or timezone.now()
    owed = list(
        Order.objects.filter(
            status=Order.Status.DELIVERED,
            # paid_at bounds the scan through the (status, paid_at) index; delivery follows payment.
            paid_at__gte=now - settings.MAIL_SWEEP_WITHIN,
            delivered_at__lte=now - settings.MAIL_SWEEP_AFTER,
            events__type=EMAIL_DUE,
        )
        .exclude(events__type=EMAIL_SENT)
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()[:limit]
    )
    for order_id in owed:
        _notify_delivered(order_id)
    return owed


# ---------------------------------------------------------------------------------------------------
# Refunds
# ---------------------------------------------------------------------------------------------------
UNDELIVERED = (Order.Status.PAID, Order.Status.AWAITING_MANUAL, Order.Status.DELIVERY_FAILED)


def record_refund(order: Order, *, amount: Money, refund_no: str, actor: User | None, void_codes: bool) -> Order:
    """Called by payments once a refund has moved money, in its transaction, with the order locked.

    Adds to the refunded total and sets the refund status. Delivered codes are voided only when
    staff decided so: a refund alone never takes back what the buyer already holds.
    """
    order.refunded = order.refunded + amount
    order.refund_status = (
        Order.RefundStatus.FULL if order.refunded.amount >= order.total.amount else Order.RefundStatus.PARTLY
    )
    order.save(update_fields=["refunded", "refund_status"])
    voided = 0
    if void_codes:
        voided = CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).update(status=CardCode.Status.VOID)
    record_event(order, "refunded", actor=actor, refund=refund_no, amount=str(amount.amount), voided_codes=voided)
    if order.refund_status == Order.RefundStatus.FULL and order.status in UNDELIVERED:
        # Refunded in full before delivery: nothing is delivered any more and held codes go back on sale.
        transition(order, Order.Status.CANCELLED, actor=actor, event="cancelled_refunded")
        release_codes(order)
    return order


# ---------------------------------------------------------------------------------------------------
# Sweepers
# ---------------------------------------------------------------------------------------------------
def expire_unpaid_orders(*, now=None, limit: int = 500) -> int:
    """Expire unpaid orders past their due time and free their codes; returns how many expired.

    Rows locked by a payment being confirmed right now are skipped and looked at on the next run, so
    an order paid a moment ago is never flipped to expired.
    """
    now = now or timezone.now()
    expired = 0
    with transaction.atomic():
        due = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(status=Order.Status.PENDING_PAYMENT, expires_at__lte=now)
            .order_by("pk")[:limit]
        )
        for order in due:
            transition(order, Order.Status.EXPIRED)
            release_codes(order)
            expired += 1
    return expired


def sweep_undelivered_orders(*, now=None) -> list[int]:
    """Re-enqueue paid orders still undelivered after a while: a lost message never loses an order."""
    now = now or timezone.now()
    stuck = list(
        Order.objects.filter(status=Order.Status.PAID, paid_at__lte=now - settings.DELIVERY_SWEEP_AFTER)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for order_id in stuck:
        _enqueue_delivery(order_id)
    return stuck
