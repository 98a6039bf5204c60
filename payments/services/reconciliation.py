"""Lost notifications: ask the gateways about payments still pending, and close the expired ones.

A notification is a trigger, not the truth. When none arrives, the beat job queries the gateway a
couple of minutes after the payment started and keeps asking until a while after it expired; an
expired trade is closed at the gateway so a shopper cannot pay for codes no longer held. A close
that loses the race with a payment fails at the gateway, and the next query confirms the payment
(the late-payment path of what it paid for).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.utils import timezone

from ..models import Payment
from ..providers import get_provider, get_providers
from ..providers.base import BasePaymentProvider, GatewayError, TradeState
from ..purposes import get_purpose
from .payments import PaymentMismatch, close_payment, confirm_payment

logger = logging.getLogger("payments.services")


class Reconciled(StrEnum):
    """What one pass of reconciliation did with a pending payment."""

    #: It was paid: confirmed as if notified.
    CONFIRMED = "confirmed"
    #: Closed at the gateway (expired or given up).
    CLOSED = "closed"
    #: Not paid yet; asked again on the next run.
    WAITING = "waiting"
    #: No longer pending, or its provider no longer reconciles: nothing to do.
    SETTLED = "settled"
    #: The gateway could not tell, or took another amount; asked again on the next run.
    ERROR = "error"


@dataclass
class ReconcileReport:
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: Reconciled) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def reconcile_pending_payments(*, now: datetime | None = None, limit: int = 200) -> ReconcileReport:
    """Query every gateway payment pending past PAYMENT_QUERY_AFTER, until PAYMENT_QUERY_UNTIL_AFTER_EXPIRY."""
    now = now or timezone.now()
    codes = [provider.code for provider in get_providers().values() if provider.reconciles]
    due = (
        Payment.objects.filter(
            state=Payment.State.PENDING,
            provider__in=codes,
            created_at__lte=now - settings.PAYMENT_QUERY_AFTER,
            expires_at__gte=now - settings.PAYMENT_QUERY_UNTIL_AFTER_EXPIRY,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    report = ReconcileReport()
    for payment_id in due:
        report.add(reconcile_payment(payment_id, now=now))
    if report.outcomes:
        logger.info("reconciled pending payments: %s", report.outcomes)
    return report


def reconcile_payment(payment_id: int, *, now: datetime | None = None) -> Reconciled:
    """Settle one pending payment from what its gateway says (asked outside any transaction)."""
    now = now or timezone.now()
    payment = Payment.objects.get(pk=payment_id)
    provider = get_provider(payment.provider)
    if payment.state != Payment.State.PENDING or provider is None or not provider.reconciles:
        return Reconciled.SETTLED
    try:
        status = provider.query(payment)
        if status.state == TradeState.PAID:
            confirm_payment(
                payment.pk, amount=status.amount, gateway_trade_no=status.gateway_trade_no, provider=provider.code
            )
            logger.warning("payment %s was paid but never notified; confirmed by query", payment.trade_no)
            return Reconciled.CONFIRMED
        if status.state == TradeState.CLOSED or _due_for_closing(payment, provider, now):
            if status.state != TradeState.CLOSED:
                provider.close(payment)
            close_payment(payment.pk)
            return Reconciled.CLOSED
    except GatewayError as error:
        logger.warning("payment %s: gateway query/close failed: %s", payment.trade_no, error)
        return Reconciled.ERROR
    except PaymentMismatch as error:
        # The gateway took a different amount than we asked: never confirmed, always looked at.
        logger.error("payment %s: %s", payment.trade_no, error)
        return Reconciled.ERROR
    return Reconciled.WAITING


def _due_for_closing(payment: Payment, provider: BasePaymentProvider, now: datetime) -> bool:
    if now < payment.created_at + provider.close_not_before:
        return False
    return now >= payment.expires_at or get_purpose(payment.purpose).is_abandoned(payment)
