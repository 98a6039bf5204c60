"""Lost notifications: ask the gateways about payments still pending, and close the expired ones.

A notification is a trigger, not the truth. When none arrives, the beat job queries the gateway a
couple of minutes after the payment started and keeps asking until a while after it expired; an
expired trade is closed at the gateway so a shopper cannot pay for codes no longer held. A close
that loses the race with a payment fails at the gateway, and the next query confirms the payment
(the late-payment path of the order).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from orders.models import Order

from ..models import Payment
from ..providers import get_provider, get_providers
from ..providers.base import BasePaymentProvider, GatewayError
from .payments import PaymentMismatch, close_payment, confirm_payment

logger = logging.getLogger("payments.services")


@dataclass
class ReconcileReport:
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
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


def reconcile_payment(payment_id: int, *, now: datetime | None = None) -> str:
    """Settle one pending payment from what its gateway says.

    Returns "confirmed" (it was paid: confirmed as if notified), "closed" (closed at the gateway),
    "waiting", "settled" (no longer pending) or "error" (asked again on the next run).
    """
    now = now or timezone.now()
    payment = Payment.objects.select_related("order").get(pk=payment_id)
    provider = get_provider(payment.provider)
    if payment.state != Payment.State.PENDING or provider is None or not provider.reconciles:
        return "settled"
    try:
        status = provider.query(payment)
        if status.state == "paid":
            confirm_payment(
                payment.pk, amount=status.amount, gateway_trade_no=status.gateway_trade_no, provider=provider.code
            )
            logger.warning("payment %s was paid but never notified; confirmed by query", payment.trade_no)
            return "confirmed"
        if status.state == "closed" or _due_for_closing(payment, provider, now):
            if status.state != "closed":
                provider.close(payment)
            close_payment(payment.pk)
            return "closed"
    except GatewayError as error:
        logger.warning("payment %s: gateway query/close failed: %s", payment.trade_no, error)
        return "error"
    except PaymentMismatch as error:
        # The gateway took a different amount than we asked: never confirmed, always looked at.
        logger.error("payment %s: %s", payment.trade_no, error)
        return "error"
    return "waiting"


def _due_for_closing(payment: Payment, provider: BasePaymentProvider, now: datetime) -> bool:
    if now < payment.created_at + provider.close_not_before:
        return False
    given_up = payment.order is not None and payment.order.status in (Order.Status.CANCELLED, Order.Status.EXPIRED)
    return given_up or now >= payment.expires_at
