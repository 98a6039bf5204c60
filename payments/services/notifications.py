"""Gateway notifications: each stored with what came of it, verified, then acted on exactly once."""

import logging

from django.db import transaction
from django.http import HttpRequest

from kamen.http import client_ip_or_none

from .. import notification_limits as limits
from ..models import Payment, PaymentNotification
from ..providers.base import BasePaymentProvider, NotificationRejected, VerifiedRefundNotification
from .payments import PaymentMismatch, confirm_payment
from .refunds import record_refund_notification

logger = logging.getLogger("payments.services")


def _new_record(provider: BasePaymentProvider, request: HttpRequest, *, read_body: bool = True) -> PaymentNotification:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("cookie", "authorization")}
    return PaymentNotification(
        provider=provider.code,
        headers=headers,
        body=limits.storable(request.body.decode("utf-8", errors="replace")) if read_body else "",
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

    The stored row says what came of it; a rejected notification changes nothing else, and is kept
    as a bounded prefix. A body over the size limit is refused unread. A rejection from a source
    over its limit is not stored at all: the returned record then has no primary key. A refund
    notification never confirms a payment.
    """
    if limits.is_oversized(request):
        record = _new_record(provider, request, read_body=False)
        too_large = f"body of {limits.declared_size(request)} bytes is over the {limits.max_bytes()}-byte limit"
        _reject(record, NotificationRejected(too_large), request=request)
        return record
    record = _new_record(provider, request)
    try:
        # What the notification changes and its record commit together: neither exists without the other.
        with transaction.atomic():
            _verify_and_apply(provider, request, record)
            record.save()
    except (NotificationRejected, PaymentMismatch) as rejected:
        _reject(record, rejected, request=request)
    except Exception as error:  # stored and answered as a failure, so the gateway sends it again
        logger.exception("%s notification failed", provider.code)
        record.pk = None  # the insert, if it happened, was rolled back with the rest
        message = f"{type(error).__name__}: {error}"
        _store_refused(record, PaymentNotification.Result.ERROR, message, request=request)
    return record


def _reject(record: PaymentNotification, reason: Exception, *, request: HttpRequest) -> None:
    logger.warning("%s notification rejected: %s", record.provider, reason)
    _store_refused(record, PaymentNotification.Result.REJECTED, str(reason), request=request)


def _store_refused(record: PaymentNotification, result: str, message: str, *, request: HttpRequest):
    """Record a notification that changed nothing. One that verified (an amount that does not match,
    an error after verification) came from the gateway: stored whole, never counted or limited."""
    record.result = result
    record.message = limits.storable(message)[:300]
    if not record.verified:
        if limits.count_rejection(request):
            logger.info("%s notification from a source over its limit not stored", record.provider)
            return
        _bound(record)
    record.save()


def _bound(record: PaymentNotification) -> None:
    """Keep only a prefix of what did not verify; a verified notification is stored whole."""
    record.body = limits.rejected_body(record.body)
    record.headers = limits.rejected_headers(record.headers)


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
        payment.pk,
        amount=verified.amount,
        gateway_trade_no=verified.gateway_trade_no,
        provider=provider.code,
        payer=verified.payer,
    )
    record.result = (
        PaymentNotification.Result.CONFIRMED if confirmation.newly_confirmed else PaymentNotification.Result.DUPLICATE
    )
