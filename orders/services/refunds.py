"""Refund decisions for orders: the buyer asks, staff approve, decline or send again; what a refund means.

Payments sends an approved refund and tells the order's purpose when the money is back
(`record_refund`); everything about who may ask, how much and where it goes is decided here.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from catalog.models import CardCode
from kamen import audit
from kamen.money import cny
from kamen.templatetags.money import yuan
from payments import services as payment_services
from payments.locks import lock_confirmed_payment, lock_payment, lock_refund
from payments.models import Payment, Refund
from payments.services import RefundError

from ..models import PAID_STATUSES, UNDELIVERED, Order, OrderEvent
from ..selectors import order_of_payment, payments_of
from .messages import REFUND_REQUESTED, K, alert_staff, shop_language, tell_buyer
from .reservation import release_codes
from .states import record_event, transition

logger = logging.getLogger("orders.services")

E = OrderEvent.Type
REFUNDABLE_STATUSES = PAID_STATUSES


def refund_refusal(order: Order, *, payment: Payment | None) -> str | None:
    """Why the buyer may not ask for a refund of `order` now, or None when they may.

    `payment` is the order's confirmed payment (None if it has none). The order page shows the
    request form exactly when this is None, and `request_refund` refuses with this reason.
    """
    if payment is None or order.status not in REFUNDABLE_STATUSES:
        return _("This order has no confirmed payment to refund.")
    if payment.amount.amount == 0:
        return _("Nothing was paid for this order, so there is nothing to refund.")
    if payment.refunds.filter(state__in=Refund.OPEN).exists():
        return _("A refund for this order is already being handled.")
    if payment_services.refundable_amount(payment) <= 0:
        return _("This order has already been refunded in full.")
    return None


def request_refund(order: Order, *, user: User | None, reason: str) -> Refund:
    """The buyer asks for the rest of their money back; staff approve or decline. One open request at a time."""
    reason = reason.strip()
    if not reason:
        raise RefundError(_("Please tell us why you want a refund."))
    with transaction.atomic():
        payment = lock_confirmed_payment(payments_of(order))
        refusal = refund_refusal(order, payment=payment)
        if refusal:
            raise RefundError(refusal)
        refund = payment_services.open_refund(
            payment,
            amount=payment_services.refundable_amount(payment),
            state=Refund.State.REQUESTED,
            reason=reason,
            requested_by=user,
        )
        record_event(order, E.REFUND_REQUESTED, actor=user, refund=refund.refund_no)
        with shop_language():
            what = _("Refund requested (%(amount)s): %(reason)s") % {"amount": yuan(refund.amount), "reason": reason}
        alert_staff(order, REFUND_REQUESTED, what=what)
    logger.info("refund %s requested for order %s", refund.refund_no, order.number)
    return refund


def create_refund(
    order: Order,
    *,
    amount: Decimal,
    destination: str,
    actor: User,
    reason: str = "",
    void_codes: bool = False,
    refund_no: str = "",
) -> Refund:
    """Staff refund an order fully or partly, to the original payment or the wallet; sent after commit.

    `refund_no`, when given (the admin form makes one per rendered form), makes a re-sent form
    return the refund it already made instead of refunding twice.
    """
    with transaction.atomic():
        payment = lock_confirmed_payment(payments_of(order))
        if payment is None:
            raise RefundError(_("This order has no confirmed payment to refund."))
        repeated = Refund.objects.filter(refund_no=refund_no).first() if refund_no else None
        if repeated is not None:
            if repeated.payment_id != payment.pk:
                raise RefundError(_("This refund form belongs to another order; open the form again."))
            return repeated
        refund = payment_services.open_refund(
            payment,
            amount=amount,
            state=Refund.State.PENDING,
            destination=destination,
            reason=reason,
            void_codes=void_codes,
            requested_by=actor,
            decided_by=actor,
            refund_no=refund_no,
        )
        record_event(order, E.REFUND_APPROVED, actor=actor, refund=refund.refund_no, amount=str(amount))
        _audit(refund, before="", actor=actor)
    return refund


def approve_refund(
    refund: Refund,
    *,
    actor: User,
    amount: Decimal | None = None,
    destination: str | None = None,
    void_codes: bool = False,
) -> Refund:
    """Staff approve a buyer's request, optionally for a different amount or destination; sent after commit."""
    with transaction.atomic():
        payment = lock_payment(refund.payment_id)
        refund = lock_refund(refund.pk)
        if refund.state != Refund.State.REQUESTED:
            raise RefundError(_("This refund request has already been decided."))
        amount = refund.amount.amount if amount is None else amount
        destination = destination or refund.destination
        payment_services.check_refund_destination(payment, destination)
        # The request's own amount is held until now, so it is available to itself.
        available = payment_services.refundable_amount(payment) + refund.amount.amount
        payment_services.check_refund_amount(amount, available=available)
        _decide(
            refund,
            Refund.State.PENDING,
            actor=actor,
            amount=cny(amount),
            destination=destination,
            void_codes=void_codes,
        )
        payment_services.send_after_commit(refund)
    return refund


def decline_refund(refund: Refund, *, actor: User, note: str) -> Refund:
    """Staff decline a buyer's request, saying why; the buyer sees the note on the order page."""
    if not note.strip():
        raise RefundError(_("Say why the refund is declined; the buyer will see it."))
    with transaction.atomic():
        refund = lock_refund(refund.pk)
        if refund.state != Refund.State.REQUESTED:
            raise RefundError(_("This refund request has already been decided."))
        _decide(refund, Refund.State.DECLINED, actor=actor, staff_note=note.strip()[:300])
        with shop_language():
            decision = _("Your refund request was declined: %(note)s") % {"note": refund.staff_note}
        tell_buyer(order_of_payment(refund.payment_id), K.REFUND, event=f"refund:{refund.refund_no}", decision=decision)
    return refund


def retry_refund(refund: Refund, *, actor: User) -> Refund:
    """Staff send a failed refund again under the same refund number (the gateway will not pay twice)."""
    with transaction.atomic():
        payment = lock_payment(refund.payment_id)
        refund = lock_refund(refund.pk)
        if refund.state != Refund.State.FAILED:
            raise RefundError(_("Only a failed refund can be sent again."))
        payment_services.check_refund_amount(
            refund.amount.amount, available=payment_services.refundable_amount(payment)
        )
        _decide(refund, Refund.State.PENDING, actor=actor)
        payment_services.send_after_commit(refund)
    return refund


def _decide(refund: Refund, state: str, *, actor: User, **fields) -> None:
    before = refund.state
    payment_services.move_refund(refund, state, decided_by=actor, decided_at=timezone.now(), **fields)
    event = E.REFUND_DECLINED if state == Refund.State.DECLINED else E.REFUND_APPROVED
    record_event(
        order_of_payment(refund.payment_id),
        event,
        actor=actor,
        refund=refund.refund_no,
        amount=str(refund.amount.amount),
    )
    _audit(refund, before=before, actor=actor)


def _audit(refund: Refund, *, before: str, actor: User) -> None:
    after = {"state": refund.state, "amount": refund.amount, "destination": refund.destination}
    audit.record(
        audit.Kind.REFUND,
        actor=actor,
        target=refund,
        before={"state": before} if before else {},
        after=after,
        note=refund.staff_note or refund.reason,
    )


def record_refund(order: Order, refund: Refund) -> Order:
    """With the order locked, once `refund` has moved money: add it to the order's refunded total.

    Delivered codes are voided only when staff decided so: a refund alone never takes back what the
    buyer already holds. Refunded in full before delivery, the order is closed and its held codes go
    back on sale.
    """
    actor = refund.decided_by
    order.refunded = order.refunded + refund.amount
    order.refund_status = (
        Order.RefundStatus.FULL if order.refunded.amount >= order.total.amount else Order.RefundStatus.PARTLY
    )
    order.save(update_fields=["refunded", "refund_status"])
    voided = 0
    if refund.void_codes:
        voided = CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).update(status=CardCode.Status.VOID)
    record_event(
        order, E.REFUNDED, actor=actor, refund=refund.refund_no, amount=str(refund.amount.amount), voided_codes=voided
    )
    if order.refund_status == Order.RefundStatus.FULL and order.status in UNDELIVERED:
        transition(order, Order.Status.CANCELLED, event=E.CANCELLED_REFUNDED, actor=actor)
        release_codes(order)
    with shop_language():
        where = _("your wallet") if refund.destination == Refund.Destination.WALLET else _("the way you paid")
        decision = _("%(amount)s was refunded to %(where)s.") % {"amount": yuan(refund.amount), "where": where}
    tell_buyer(order, K.REFUND, event=f"refund:{refund.refund_no}", decision=decision)
    return order


def record_refund_failure(order: Order, refund: Refund) -> None:
    record_event(order, E.REFUND_FAILED, refund=refund.refund_no, message=refund.message[:200])
