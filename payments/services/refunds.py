"""Refunds at the payments layer: how much is left to refund, and sending a refund exactly once.

Whether a refund may be asked for, approved or declined is the payment's purpose's decision (for an
order: `orders.services.refunds`); once one is approved, it is sent here, to the wallet or to the
gateway. Its `refund_no` is the gateway's idempotency key, so sending it again (after a timeout, from
the beat job, from a second worker) never moves money twice; the wallet ledger refuses a second entry
with the same reference for the same reason.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as wallet_services
from accounts.models import User, WalletEntry
from kamen.money import CURRENCY, cny, round_fen
from kamen.tasks import enqueue

from ..locks import lock_refund
from ..models import Payment, Refund
from ..providers import get_provider
from ..providers.base import GatewayError, RefundOutcome, VerifiedRefundNotification
from ..purposes import get_purpose
from .states import move_refund

logger = logging.getLogger("payments.services")

# An approved refund still unsent after this long (a lost task, an unknown gateway outcome) is sent again.
RESEND_PENDING_AFTER = timedelta(minutes=2)


class RefundError(Exception):
    """A refund refused for a reason staff or the buyer should read; nothing was written."""


def refundable_amount(payment: Payment) -> Decimal:
    """What is left to refund of a confirmed payment: its amount less every refund not failed or declined."""
    held = (
        payment.refunds.filter(state__in=Refund.HOLDING, amount_currency=CURRENCY)
        .aggregate(total=Sum("amount"))
        .get("total")
    )
    return payment.amount.amount - (held or Decimal("0"))


def check_refund_amount(amount: Decimal, *, available: Decimal) -> None:
    """Raise RefundError unless `amount` is whole fen, above zero and at most `available`."""
    if amount <= 0 or amount != round_fen(amount):
        raise RefundError(_("Enter a refund amount in yuan and fen, more than zero."))
    if amount > available:
        raise RefundError(_("At most ¥%(amount)s can still be refunded.") % {"amount": f"{available:.2f}"})


def check_refund_destination(payment: Payment, destination: str) -> None:
    """Raise RefundError unless `destination` is a place this payment's money can go back to."""
    if destination not in Refund.Destination.values:
        raise RefundError(_("Choose where the refund goes."))
    if destination == Refund.Destination.WALLET and payment.user_id is None:
        raise RefundError(_("A guest order has no wallet; refund it to the original payment."))


def open_refund(
    payment: Payment,
    *,
    amount: Decimal,
    state: str,
    destination: str = Refund.Destination.ORIGINAL,
    reason: str = "",
    void_codes: bool = False,
    requested_by: User | None,
    decided_by: User | None = None,
    refund_no: str = "",
) -> Refund:
    """Write a new refund of a locked, confirmed payment: REQUESTED (awaiting a decision) or PENDING (approved).

    Checks the amount against what is left and the destination; an approved one is sent after commit.
    """
    if state not in (Refund.State.REQUESTED, Refund.State.PENDING):
        raise ValueError(f"a refund starts requested or approved, not {state}")
    check_refund_destination(payment, destination)
    check_refund_amount(amount, available=refundable_amount(payment))
    decided = state == Refund.State.PENDING
    refund = Refund.objects.create(
        **({"refund_no": refund_no} if refund_no else {}),
        payment=payment,
        amount=cny(amount),
        destination=destination,
        state=state,
        reason=reason.strip()[:300],
        void_codes=void_codes,
        requested_by=requested_by,
        decided_by=decided_by if decided else None,
        decided_at=timezone.now() if decided else None,
    )
    if decided:
        send_after_commit(refund)
    return refund


def send_after_commit(refund: Refund) -> None:
    """Send an approved refund once the transaction that approved it has committed."""
    transaction.on_commit(lambda: _enqueue(refund.pk))


def _enqueue(refund_id: int) -> None:
    from ..tasks import execute_refund_task

    enqueue(execute_refund_task, refund_id)


def execute_refund(refund_id: int) -> Refund:
    """Send an approved refund: credit the wallet, or ask the gateway. Safe to run twice.

    The gateway is called between transactions, never under the refund's row lock: two senders may
    both ask it, and the refund number makes the second ask a no-op there. An unknown outcome
    (timeout) leaves the refund pending; the beat job sends it again under the same number.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.state != Refund.State.PENDING:
        return refund
    if refund.goes_to_wallet:
        return _refund_to_wallet(refund_id)
    try:
        result = _gateway(refund).refund(refund)
    except GatewayError as error:
        logger.warning("refund %s not sent yet: %s", refund.refund_no, error)
        with transaction.atomic():
            refund = lock_refund(refund_id)
            if refund.state == Refund.State.PENDING:
                refund.message = str(error)[:300]
                refund.save(update_fields=["message"])
        return refund
    with transaction.atomic():
        refund = lock_refund(refund_id)
        if refund.state != Refund.State.PENDING:  # a notification or another sender got there first
            return refund
        return _apply_result(refund, result.state, gateway_refund_id=result.gateway_refund_id, message=result.message)


def _refund_to_wallet(refund_id: int) -> Refund:
    with transaction.atomic():
        refund = lock_refund(refund_id)
        if refund.state != Refund.State.PENDING:
            return refund
        wallet_services.credit_wallet(
            refund.payment.user,
            refund.amount,
            actor=refund.decided_by,
            kind=WalletEntry.Kind.REFUND,
            reference=refund.refund_no,
            note=refund.payment.description,
        )
        return _succeed(refund, gateway_refund_id="")


def _gateway(refund: Refund):
    provider = get_provider(refund.payment.provider)
    if provider is None:
        raise GatewayError(f"payment provider {refund.payment.provider!r} is not enabled")
    return provider


def _apply_result(refund: Refund, outcome: RefundOutcome, *, gateway_refund_id: str, message: str) -> Refund:
    """With the refund locked: record what the gateway said about it."""
    if outcome == RefundOutcome.SUCCEEDED:
        return _succeed(refund, gateway_refund_id=gateway_refund_id, message=message)
    if outcome == RefundOutcome.FAILED:
        move_refund(refund, Refund.State.FAILED, message=message[:300])
        get_purpose(refund.payment.purpose).refund_failed(refund)
        logger.warning("refund %s failed at the gateway: %s", refund.refund_no, message)
        return refund
    fields = {"gateway_refund_id": gateway_refund_id or refund.gateway_refund_id, "message": message[:300]}
    if refund.state == Refund.State.PROCESSING:
        for name, value in fields.items():
            setattr(refund, name, value)
        refund.save(update_fields=list(fields))
        return refund
    return move_refund(refund, Refund.State.PROCESSING, **fields)


def _succeed(refund: Refund, *, gateway_refund_id: str, message: str = "") -> Refund:
    move_refund(
        refund,
        Refund.State.SUCCEEDED,
        gateway_refund_id=gateway_refund_id or refund.gateway_refund_id,
        message=message[:300],
        completed_at=timezone.now(),
    )
    get_purpose(refund.payment.purpose).refund_succeeded(refund)
    logger.info("refund %s of %s succeeded (%s)", refund.refund_no, refund.amount, refund.destination)
    return refund


def record_refund_notification(verified: VerifiedRefundNotification, *, payment: Payment) -> str:
    """Apply a verified refund notification to our refund of that number; returns what it changed."""
    refund = Refund.objects.filter(payment=payment, refund_no=verified.refund_no).only("pk").first()
    if refund is None:
        logger.warning("refund notification for %s names no refund of ours (%r)", payment.trade_no, verified.refund_no)
        return f"no refund {verified.refund_no!r} of ours; nothing changed"
    with transaction.atomic():
        refund = lock_refund(refund.pk)
        outcome = RefundOutcome.SUCCEEDED if verified.succeeded else RefundOutcome.FAILED
        # A failed refund can still have moved money (the gateway knows best): a success is recorded.
        settled = refund.state not in (Refund.State.PENDING, Refund.State.PROCESSING, Refund.State.FAILED)
        if settled or (refund.state == Refund.State.FAILED and outcome == RefundOutcome.FAILED):
            return f"refund {refund.refund_no} is {refund.state}; nothing changed"
        if refund.state == Refund.State.FAILED:
            logger.error("refund %s was marked failed but the gateway says it succeeded", refund.refund_no)
        _apply_result(refund, outcome, gateway_refund_id=verified.gateway_refund_id, message=verified.message)
    return f"refund {refund.refund_no} {outcome}"


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
    """Ask the gateway about one processing refund (outside any lock), then apply a final answer."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    try:
        result = _gateway(refund).query_refund(refund)
    except GatewayError as error:
        logger.warning("refund %s: query failed: %s", refund.refund_no, error)
        return False
    if result.state == RefundOutcome.PROCESSING:
        return False
    with transaction.atomic():
        refund = lock_refund(refund_id)
        if refund.state != Refund.State.PROCESSING:
            return False
        _apply_result(refund, result.state, gateway_refund_id=result.gateway_refund_id, message=result.message)
    return True
