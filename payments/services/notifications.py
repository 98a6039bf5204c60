"""Gateway notifications: each stored with what came of it, verified, then acted on exactly once."""

import logging

from django.db import transaction
from django.http import HttpRequest

from kamen.http import client_ip_or_none

from ..models import Payment, PaymentNotification
from ..providers.base import BasePaymentProvider, NotificationRejected, VerifiedRefundNotification
from .payments import PaymentMismatch, confirm_payment
from .refunds import record_refund_notification

logger = logging.getLogger("payments.services")


def _new_record(provider: BasePaymentProvider, request: HttpRequest) -> PaymentNotification:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("cookie", "authorization")}
    return PaymentNotification(
        provider=provider.code,
        headers=headers,
        body=request.body.decode("utf-8", errors="replace"),
        remote_addr=client_ip_or_none(request),
    )


def _our_payment(trade_no: str, provider: BasePaymentProvider) -> Payment:
    payment = Payment.objects.filter(trade_no=trade_no).only("pk", "provider").first()
    if payment is None:
        raise NotificationRejected(f"unknown trade number {trade_no!r}")
    if payment.provider != provider.code:
        raise NotificationRejected(f"trade {trade_no} belongs to {payment.provider}")
    return payment


def handle_notification(provider: BasePaymentProvider, request: HttpRequest) -> PaymentNotification:
    """Store a gateway notification, verify it, and apply what it proves: a payment or a refund.

    The stored row says what came of it; a rejected notification changes nothing else. A refund
    notification never confirms a payment.
    """
    record = _new_record(provider, request)
    try:
        # What the notification changes and its record commit together: neither exists without the other.
        with transaction.atomic():
            _verify_and_apply(provider, request, record)
            record.save()
    except (NotificationRejected, PaymentMismatch) as rejected:
        record.result = PaymentNotification.Result.REJECTED
        record.message = str(rejected)[:300]
        logger.warning("%s notification rejected: %s", provider.code, rejected)
        record.save()
    except Exception as error:  # stored and answered as a failure, so the gateway sends it again
        record.result = PaymentNotification.Result.ERROR
        record.message = f"{type(error).__name__}: {error}"[:300]
        logger.exception("%s notification failed", provider.code)
        record.pk = None  # the insert, if it happened, was rolled back with the rest
        record.save()
    return record


def _verify_and_apply(provider: BasePaymentProvider, request: HttpRequest, record: PaymentNotification) -> None:
    verified = provider.parse_notification(request)
    payment = _our_payment(verified.trade_no, provider)
    record.payment_id = payment.pk
    record.verified = True
    if isinstance(verified, VerifiedRefundNotification):
        record.result = PaymentNotification.Result.REFUND
        record.message = record_refund_notification(verified, payment=payment)[:300]
        return
    confirmation = confirm_payment(
        payment.pk, amount=verified.amount, gateway_trade_no=verified.gateway_trade_no, provider=provider.code
    )
    record.result = (
        PaymentNotification.Result.CONFIRMED if confirmation.newly_confirmed else PaymentNotification.Result.DUPLICATE
    )
