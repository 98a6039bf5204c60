"""Refunds: requested by a buyer or made by staff, sent to the gateway or the wallet, each exactly once.

A refund is a row of its own. Its `refund_no` is the gateway's idempotency key, so sending it again
(after a timeout, from the beat job, from a second worker) never moves money twice; the wallet
ledger refuses a second entry with the same reference for the same reason.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from accounts import services as wallet_services
from accounts.models import User, WalletEntry
from kamen.money import round_fen
from kamen.tasks import enqueue
from orders import services as order_services
from orders.models import Order

from ..models import Payment, Refund
from ..providers import get_provider
from ..providers.base import GatewayError, VerifiedRefundNotification

logger = logging.getLogger("payments.services")

# An approved refund still unsent after this long (a lost task, an unknown gateway outcome) is sent again.
RESEND_PENDING_AFTER = timedelta(minutes=2)
# Providers whose money lives in our own wallet ledger: "back to the original payment" is the wallet.
WALLET_PROVIDERS = ("balance",)


class RefundError(Exception):
    """A refund refused for a reason staff or the buyer should read; nothing was written."""


def refundable_amount(payment: Payment) -> Decimal:
    """What is left to refund of a confirmed payment: its amount less every refund not failed or declined."""
    held = payment.refunds.filter(state__in=Refund.HOLDING).aggregate(total=Sum("amount"))["total"]
    return payment.amount.amount - (held or Decimal("0"))


def _locked_paid_payment(order: Order) -> Payment:
    payment = (
        Payment.objects.select_for_update().filter(order=order, state=Payment.State.CONFIRMED).order_by("-id").first()
    )
    if payment is None:
        raise RefundError(_("This order has no confirmed payment to refund."))
    return payment


def _check_amount(amount: Decimal, *, available: Decimal) -> None:
    if amount <= 0 or amount != round_fen(amount):
        raise RefundError(_("Enter a refund amount in yuan and fen, more than zero."))
    if amount > available:
        raise RefundError(_("At most ¥%(amount)s can still be refunded.") % {"amount": f"{available:.2f}"})


def _check_destination(order: Order, destination: str) -> None:
    if destination not in Refund.Destination.values:
        raise RefundError(_("Choose where the refund goes."))
    if destination == Refund.Destination.WALLET and order.user_id is None:
        raise RefundError(_("A guest order has no wallet; refund it to the original payment."))


def request_refund(order: Order, *, user: User | None, reason: str) -> Refund:
    """The buyer asks for the rest of their money back; staff approve or decline. One open request at a time."""
    reason = reason.strip()
    if not reason:
        raise RefundError(_("Please tell us why you want a refund."))
    with transaction.atomic():
        payment = _locked_paid_payment(order)
        if payment.refunds.filter(state__in=Refund.OPEN_FOR_BUYER).exists():
            raise RefundError(_("A refund for this order is already being handled."))
        remaining = refundable_amount(payment)
        if remaining <= 0:
            raise RefundError(_("This order has already been refunded in full."))
        refund = Refund.objects.create(
            payment=payment,
            order=order,
            amount=Money(remaining, "CNY"),
            state=Refund.State.REQUESTED,
            reason=reason[:300],
            requested_by=user,
        )
        order_services.record_event(order, "refund_requested", actor=user, refund=refund.refund_no)
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
    _check_destination(order, destination)
    with transaction.atomic():
        payment = _locked_paid_payment(order)
        repeated = Refund.objects.filter(refund_no=refund_no).first() if refund_no else None
        if repeated is not None:
            if repeated.order_id != order.pk:
                raise RefundError(_("This refund form belongs to another order; open the form again."))
            return repeated
        _check_amount(amount, available=refundable_amount(payment))
        now = timezone.now()
        refund = Refund.objects.create(
            **({"refund_no": refund_no} if refund_no else {}),
            payment=payment,
            order=order,
            amount=Money(amount, "CNY"),
            destination=destination,
            state=Refund.State.PENDING,
            reason=reason.strip()[:300],
            void_codes=void_codes,
            requested_by=actor,
            decided_by=actor,
            decided_at=now,
        )
        order_services.record_event(order, "refund_approved", actor=actor, refund=refund.refund_no, amount=str(amount))
        transaction.on_commit(lambda: _enqueue(refund.pk))
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
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        refund = Refund.objects.select_for_update(of=("self",)).select_related("order").get(pk=refund.pk)
        if refund.state != Refund.State.REQUESTED:
            raise RefundError(_("This refund request has already been decided."))
        amount = refund.amount.amount if amount is None else amount
        destination = destination or refund.destination
        _check_destination(refund.order, destination)
        # The request's own amount is held until now, so it is available to itself.
        _check_amount(amount, available=refundable_amount(payment) + refund.amount.amount)
        refund.amount = Money(amount, "CNY")
        refund.destination = destination
        refund.void_codes = void_codes
        _decide(refund, Refund.State.PENDING, actor=actor, fields=["amount", "destination", "void_codes"])
        transaction.on_commit(lambda: _enqueue(refund.pk))
    return refund


def decline_refund(refund: Refund, *, actor: User, note: str) -> Refund:
    """Staff decline a buyer's request, saying why; the buyer sees the note on the order page."""
    if not note.strip():
        raise RefundError(_("Say why the refund is declined; the buyer will see it."))
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).select_related("order").get(pk=refund.pk)
        if refund.state != Refund.State.REQUESTED:
            raise RefundError(_("This refund request has already been decided."))
        refund.staff_note = note.strip()[:300]
        _decide(refund, Refund.State.DECLINED, actor=actor, fields=["staff_note"])
    return refund


def retry_refund(refund: Refund, *, actor: User) -> Refund:
    """Staff send a failed refund again under the same refund number (the gateway will not pay twice)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        refund = Refund.objects.select_for_update(of=("self",)).select_related("order").get(pk=refund.pk)
        if refund.state != Refund.State.FAILED:
            raise RefundError(_("Only a failed refund can be sent again."))
        _check_amount(refund.amount.amount, available=refundable_amount(payment))
        _decide(refund, Refund.State.PENDING, actor=actor, fields=[])
        transaction.on_commit(lambda: _enqueue(refund.pk))
    return refund


def _decide(refund: Refund, state: str, *, actor: User, fields: list[str]) -> None:
    refund.state = state
    refund.decided_by = actor
    refund.decided_at = timezone.now()
    refund.save(update_fields=[*fields, "state", "decided_by", "decided_at"])
    event = "refund_declined" if state == Refund.State.DECLINED else "refund_approved"
    order_services.record_event(
        refund.order, event, actor=actor, refund=refund.refund_no, amount=str(refund.amount.amount)
    )


def _enqueue(refund_id: int) -> None:
    from ..tasks import execute_refund_task

    enqueue(execute_refund_task, refund_id)


def execute_refund(refund_id: int) -> Refund:
    """Send an approved refund: credit the wallet, or ask the gateway. Safe to run twice.

    An unknown gateway outcome (timeout) leaves the refund pending; the beat job sends it again
    under the same refund number.
    """
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).select_related("payment", "order").get(pk=refund_id)
        if refund.state != Refund.State.PENDING:
            return refund
        if refund.destination == Refund.Destination.WALLET or refund.payment.provider in WALLET_PROVIDERS:
            wallet_services.credit_wallet(
                refund.order.user,
                refund.amount,
                actor=refund.decided_by,
                kind=WalletEntry.Kind.REFUND,
                reference=refund.refund_no,
                note=refund.order.number,
            )
            return _succeed(refund, gateway_refund_id="")
        try:
            result = _gateway(refund).refund(refund)
        except GatewayError as error:
            refund.message = str(error)[:300]
            refund.save(update_fields=["message"])
            logger.warning("refund %s not sent yet: %s", refund.refund_no, error)
            return refund
        return _apply_result(refund, result.state, gateway_refund_id=result.gateway_refund_id, message=result.message)


def _gateway(refund: Refund):
    provider = get_provider(refund.payment.provider)
    if provider is None:
        raise GatewayError(f"payment provider {refund.payment.provider!r} is not enabled")
    return provider


def _apply_result(refund: Refund, state: str, *, gateway_refund_id: str, message: str) -> Refund:
    """With the refund locked: record what the gateway said about it."""
    if state == "succeeded":
        return _succeed(refund, gateway_refund_id=gateway_refund_id, message=message)
    if state == "failed":
        refund.state = Refund.State.FAILED
        refund.message = message[:300]
        refund.save(update_fields=["state", "message"])
        order_services.record_event(refund.order, "refund_failed", refund=refund.refund_no, message=message[:200])
        logger.warning("refund %s failed at the gateway: %s", refund.refund_no, message)
        return refund
    refund.state = Refund.State.PROCESSING
    refund.gateway_refund_id = gateway_refund_id or refund.gateway_refund_id
    refund.message = message[:300]
    refund.save(update_fields=["state", "gateway_refund_id", "message"])
    return refund


def _succeed(refund: Refund, *, gateway_refund_id: str, message: str = "") -> Refund:
    refund.state = Refund.State.SUCCEEDED
    refund.gateway_refund_id = gateway_refund_id or refund.gateway_refund_id
    refund.message = message[:300]
    refund.completed_at = timezone.now()
    refund.save(update_fields=["state", "gateway_refund_id", "message", "completed_at"])
    order = Order.objects.select_for_update().get(pk=refund.order_id)
    order_services.record_refund(
        order, amount=refund.amount, refund_no=refund.refund_no, actor=refund.decided_by, void_codes=refund.void_codes
    )
    _reverse_commissions(refund)
    logger.info("refund %s of %s succeeded (%s)", refund.refund_no, refund.amount, refund.destination)
    return refund


def _reverse_commissions(refund: Refund) -> None:
    """Commission reversal hook, called in the refund's transaction once money has gone back.

    The distribution app reverses here, with reversing ledger entries, the commissions its three
    levels accrued on `refund.order`, in proportion to `refund.amount`. Orders accrue no commission
    before that app exists, so there is nothing to reverse yet.
    """


def record_refund_notification(verified: VerifiedRefundNotification, *, payment: Payment) -> str:
    """Apply a verified refund notification to our refund of that number; returns what it changed."""
    refund = Refund.objects.filter(payment=payment, refund_no=verified.refund_no).only("pk").first()
    if refund is None:
        logger.warning("refund notification for %s names no refund of ours (%r)", payment.trade_no, verified.refund_no)
        return f"no refund {verified.refund_no!r} of ours; nothing changed"
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).select_related("order").get(pk=refund.pk)
        state = "succeeded" if verified.succeeded else "failed"
        # A failed refund can still have moved money (the gateway knows best): a success is recorded.
        settled = refund.state not in (Refund.State.PENDING, Refund.State.PROCESSING, Refund.State.FAILED)
        if settled or (refund.state == Refund.State.FAILED and state == "failed"):
            return f"refund {refund.refund_no} is {refund.state}; nothing changed"
        if refund.state == Refund.State.FAILED:
            logger.error("refund %s was marked failed but the gateway says it succeeded", refund.refund_no)
        _apply_result(refund, state, gateway_refund_id=verified.gateway_refund_id, message=verified.message)
    return f"refund {refund.refund_no} {state}"


def sync_processing_refunds(*, now=None) -> int:
    """Beat: finish refunds the gateway is still processing, and re-send approved ones left unsent."""
    now = now or timezone.now()
    changed = 0
    for refund_id in Refund.objects.filter(state=Refund.State.PROCESSING).values_list("pk", flat=True)[:200]:
        changed += _sync_processing(refund_id)
    stuck = Refund.objects.filter(state=Refund.State.PENDING, decided_at__lte=now - RESEND_PENDING_AFTER)
    for refund_id in stuck.values_list("pk", flat=True)[:200]:
        changed += execute_refund(refund_id).state != Refund.State.PENDING
    return changed


def _sync_processing(refund_id: int) -> bool:
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).select_related("payment", "order").get(pk=refund_id)
        if refund.state != Refund.State.PROCESSING:
            return False
        try:
            result = _gateway(refund).query_refund(refund)
        except GatewayError as error:
            logger.warning("refund %s: query failed: %s", refund.refund_no, error)
            return False
        if result.state == "processing":
            return False
        _apply_result(refund, result.state, gateway_refund_id=result.gateway_refund_id, message=result.message)
    return True
