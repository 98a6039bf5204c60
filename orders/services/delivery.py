"""After payment: codes delivered from stock, by staff by hand, or the order sent to the staff queue."""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import points
from accounts.models import User
from catalog import crypto
from catalog.models import CardCode, Sku
from kamen.tasks import enqueue

from ..locks import lock_order
from ..models import IllegalTransition, Order, OrderEvent
from .coupons import use_coupon
from .mail import mail_when_committed
from .messages import STAFF_QUEUE, K, alert_staff, shop_language, tell_buyer
from .reservation import OutOfStock, reserve_codes
from .risk import hold_reason
from .states import transition
from .upstream import deliver_upstream, retry_upstream_delivery
from .webhooks import order_finished

logger = logging.getLogger("orders.services")

E = OrderEvent.Type


def mark_paid(order: Order, *, payment_id: int) -> Order:
    """Called by the order's payment purpose only, in the confirming transaction, with the order locked.

    A payment on an expired or cancelled order is a late payment: its codes are reserved again when
    stock allows, otherwise the order goes to the staff queue with the reason. It is never dropped.
    An order that trips a soft risk rule waits in the staff queue too, its codes still held for it.
    """
    late = order.status in (Order.Status.EXPIRED, Order.Status.CANCELLED)
    transition(order, Order.Status.PAID, event=E.PAID_LATE if late else E.PAID, payment=payment_id)
    use_coupon(order)
    tell_buyer(order, K.PAID, event="paid")
    if late and order.sku.holds_codes:
        missing = order.quantity - CardCode.objects.filter(order=order).count()
        if reserve_codes(order, missing) != missing:
            fail_delivery(order, _("Paid after the order expired and the stock is gone; refund or restock."))
            return order
    with shop_language():  # the reason is staff's to read in the queue, in the shop's language
        reason = hold_reason(order)
    if reason:
        return hold_for_review(order, reason)
    transaction.on_commit(lambda: enqueue_delivery(order.pk))
    return order


def enqueue_delivery(order_id: int) -> None:
    from ..tasks import deliver_order_task

    enqueue(deliver_order_task, order_id)


def deliver_order(order_id: int) -> Order:
    """Turn a paid order's reserved codes into sold ones and the order into delivered. Safe to run twice."""
    upstream = Order.objects.filter(pk=order_id, sku__delivery_kind=Sku.DeliveryKind.UPSTREAM).exists()
    if upstream:
        # Its steps call the supplier, which never happens under the order's lock: they take it themselves.
        return deliver_upstream(order_id)
    with transaction.atomic():
        order = lock_order(order_id)
        if order.status != Order.Status.PAID:
            return order
        if order.sku.is_manual:
            transition(order, Order.Status.AWAITING_MANUAL, event=E.AWAITING_MANUAL)
            tell_buyer(order, K.MANUAL, event="awaiting_manual")
            with shop_language():
                what = _("Waiting for manual delivery.")
            alert_staff(order, STAFF_QUEUE, what=what)
            return order
        held = CardCode.objects.filter(order=order, status__in=[CardCode.Status.RESERVED, CardCode.Status.SOLD])
        missing = order.quantity - held.count()
        if missing and reserve_codes(order, missing) != missing:
            return fail_delivery(order, _("Not enough codes in stock to complete the order."))
        _sell_held_codes(order)
        transition(order, Order.Status.DELIVERED, event=E.DELIVERED)
        _delivered(order)
    return order


def deliver_manually(order: Order, *, content: str, actor: User) -> Order:
    """Staff record what they delivered by hand for a manual-delivery or failed order."""
    if not content.strip():
        raise ValueError(_("Enter what was delivered."))
    with transaction.atomic():
        order = lock_order(order.pk)
        order.manual_delivery_encrypted = crypto.encrypt(content.strip())
        order.save(update_fields=["manual_delivery_encrypted"])
        transition(order, Order.Status.DELIVERED, event=E.DELIVERED_MANUALLY, actor=actor)
        _delivered(order)
    return order


def retry_delivery(order: Order, *, actor: User) -> Order:
    """Staff send a failed order through delivery again: from stock after importing codes, or an
    upstream order round its suppliers."""
    if order.sku.is_upstream:
        return retry_upstream_delivery(order, actor=actor)
    with transaction.atomic():
        order = lock_order(order.pk)
        if order.status != Order.Status.DELIVERY_FAILED or not order.sku.holds_codes:
            raise IllegalTransition(_("Only a failed stock-delivery order can be retried."))
        held = CardCode.objects.filter(order=order).count()
        if reserve_codes(order, order.quantity - held) != order.quantity - held:
            raise OutOfStock(_("Still not enough codes in stock."))
        _sell_held_codes(order)
        order.abnormal_reason = ""
        order.save(update_fields=["abnormal_reason"])
        transition(order, Order.Status.DELIVERED, event=E.DELIVERY_RETRIED, actor=actor)
        _delivered(order)
    return order


def hold_for_review(order: Order, reason: str) -> Order:
    """With the paid order locked: send it to the staff queue for `reason` (a soft risk rule) instead
    of delivering it. Its codes stay held; the buyer is told it is being handled, not why."""
    order.abnormal_reason = reason[: Order._meta.get_field("abnormal_reason").max_length]
    order.save(update_fields=["abnormal_reason"])
    logger.warning("order %s held for review: %s", order.number, reason)
    transition(order, Order.Status.DELIVERY_FAILED, event=E.RISK_HELD, reason=reason)
    tell_buyer(order, K.DELIVERY_FAILED, event="delivery_failed")
    with shop_language():
        what = _("Held for review: %(reason)s") % {"reason": reason}
    alert_staff(order, STAFF_QUEUE, what=what)
    return order


def is_held_for_review(order: Order) -> bool:
    """Whether the order waits in the staff queue because a risk rule held it (and nothing since)."""
    if order.status != Order.Status.DELIVERY_FAILED:
        return False
    last = order.events.filter(to_status=Order.Status.DELIVERY_FAILED).order_by("-id").first()
    return last is not None and last.type == E.RISK_HELD


def release_held_order(order: Order, *, actor: User) -> Order:
    """Staff reviewed an order a risk rule held and let it go: it is delivered as any paid order is
    (from stock, by hand or from a supplier), with no risk rule asked again."""
    with transaction.atomic():
        order = lock_order(order.pk)
        if not is_held_for_review(order):
            raise IllegalTransition(_("Only an order held by a risk rule can be released."))
        order.abnormal_reason = ""
        order.save(update_fields=["abnormal_reason"])
        transition(order, Order.Status.PAID, event=E.RISK_RELEASED, actor=actor)
        transaction.on_commit(lambda: enqueue_delivery(order.pk))
    return order


def _delivered(order: Order) -> None:
    """What follows every delivery, in its transaction: the buyer's points and messages, and the
    delivery e-mail."""
    tell_buyer(order, K.DELIVERED, event="delivered")
    order_finished(order)
    if order.user_id is not None and order.total.amount > 0:
        earned = points.award_for_order(order.user, order.total, reference=order.number, note=order.product_title)
        if earned.entry is not None:
            with shop_language():
                reason = _("Order %(number)s is delivered.") % {"number": order.number}
            details = {"points": earned.entry.points, "balance": earned.account.balance, "reason": reason}
            tell_buyer(order, K.POINTS, event="points", **details)
    mail_when_committed(order)


def _sell_held_codes(order: Order) -> None:
    CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).update(
        status=CardCode.Status.SOLD, sold_at=timezone.now(), reserved_until=None
    )


def fail_delivery(order: Order, reason: str) -> Order:
    """With the order locked: send it to the staff queue with `reason`."""
    order.abnormal_reason = reason
    order.save(update_fields=["abnormal_reason"])
    logger.warning("order %s needs staff: %s", order.number, reason)
    transition(order, Order.Status.DELIVERY_FAILED, event=E.DELIVERY_FAILED, reason=reason)
    tell_buyer(order, K.DELIVERY_FAILED, event="delivery_failed")
    order_finished(order)
    with shop_language():
        what = _("Delivery failed: %(reason)s") % {"reason": reason}
    alert_staff(order, STAFF_QUEUE, what=what)
    return order
