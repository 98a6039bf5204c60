"""Payment writes. `confirm_payment` is the only way an order becomes paid."""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import services as wallet_services
from accounts.models import User
from orders import services as order_services
from orders.models import Order

from .models import Payment, PaymentNotification
from .providers.base import BasePaymentProvider, NotificationRejected

logger = logging.getLogger(__name__)


class PaymentMismatch(Exception):
    """A notification names a payment that exists but does not match it (amount, provider)."""


@dataclass(frozen=True)
class Confirmation:
    payment: Payment
    newly_confirmed: bool


def create_payment(order: Order, *, provider: str) -> Payment:
    return Payment.objects.create(order=order, provider=provider, amount=order.total, state=Payment.State.PENDING)


def confirm_payment(payment_id: int, *, amount: Decimal, gateway_trade_no: str, provider: str) -> Confirmation:
    """Confirm a payment exactly once and move its order to paid in the same transaction.

    Locks the payment row first, so concurrent duplicate notifications queue up here and all but the
    first return `newly_confirmed=False`. Raises PaymentMismatch if the amount is not exactly ours.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.provider != provider:
            raise PaymentMismatch(f"payment {payment.trade_no} belongs to {payment.provider}, not {provider}")
        if payment.amount.amount != amount:
            raise PaymentMismatch(f"payment {payment.trade_no}: amount {amount} != {payment.amount.amount}")
        if payment.state == Payment.State.CONFIRMED:
            return Confirmation(payment=payment, newly_confirmed=False)
        payment.state = Payment.State.CONFIRMED
        payment.gateway_trade_no = gateway_trade_no
        payment.confirmed_at = timezone.now()
        payment.save(update_fields=["state", "gateway_trade_no", "confirmed_at"])
        order = Order.objects.select_for_update().select_related("sku").get(pk=payment.order_id)
        order_services.mark_paid(order, payment_id=payment.pk)
    logger.info("payment %s confirmed for order %s", payment.trade_no, order.number)
    return Confirmation(payment=payment, newly_confirmed=True)


def pay_with_balance(payment: Payment, *, user: User) -> Confirmation:
    """Debit the buyer's wallet and confirm the payment in one transaction; never overdraws."""
    if payment.order.user_id != user.pk:
        raise PaymentMismatch("a wallet pays only its owner's orders")
    with transaction.atomic():
        # Lock the payment before the wallet: a second call for the same payment waits here, then
        # finds it confirmed and debits nothing (confirm_payment alone would still let it debit).
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.state == Payment.State.CONFIRMED:
            return Confirmation(payment=locked, newly_confirmed=False)
        change = wallet_services.debit_wallet(
            user, payment.amount, reference=payment.trade_no, note=payment.order.number
        )
        return confirm_payment(
            payment.pk, amount=payment.amount.amount, gateway_trade_no=f"W{change.entry.pk}", provider="balance"
        )


def _store_notification(provider: BasePaymentProvider, request: HttpRequest) -> PaymentNotification:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("cookie", "authorization")}
    return PaymentNotification.objects.create(
        provider=provider.code,
        headers=headers,
        body=request.body.decode("utf-8", errors="replace"),
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )


def handle_notification(provider: BasePaymentProvider, request: HttpRequest) -> PaymentNotification:
    """Store a gateway notification, verify it, and confirm the payment it proves.

    The stored row says what came of it; a rejected notification changes nothing else.
    """
    record = _store_notification(provider, request)
    try:
        verified = provider.parse_notification(request)
        payment = Payment.objects.filter(trade_no=verified.trade_no).only("pk").first()
        if payment is None:
            raise NotificationRejected(f"unknown trade number {verified.trade_no!r}")
        record.payment_id = payment.pk
        record.verified = True
        confirmation = confirm_payment(
            payment.pk, amount=verified.amount, gateway_trade_no=verified.gateway_trade_no, provider=provider.code
        )
    except (NotificationRejected, PaymentMismatch) as rejected:
        record.result = PaymentNotification.Result.REJECTED
        record.message = str(rejected)[:300]
        logger.warning("%s notification %s rejected: %s", provider.code, record.pk, rejected)
    except Exception as error:  # stored and answered as a failure, so the gateway sends it again
        record.result = PaymentNotification.Result.ERROR
        record.message = f"{type(error).__name__}: {error}"[:300]
        logger.exception("%s notification %s failed", provider.code, record.pk)
    else:
        record.result = (
            PaymentNotification.Result.CONFIRMED
            if confirmation.newly_confirmed
            else PaymentNotification.Result.DUPLICATE
        )
    record.save(update_fields=["payment", "verified", "result", "message"])
    return record
