"""Payments and wallet top-ups: open one, start it at its provider, confirm it exactly once, close it."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from djmoney.money import Money

from accounts import services as wallet_services
from accounts.models import User, WalletEntry
from kamen.money import round_fen
from orders import services as order_services
from orders.models import Order

from ..models import Payment
from ..providers import get_provider
from ..providers.base import PaymentAction

logger = logging.getLogger("payments.services")


class PaymentMismatch(Exception):
    """A notification names a payment that exists but does not match it (amount, provider)."""


class TopUpError(Exception):
    """A top-up refused for a reason the user should read; nothing was written."""


@dataclass(frozen=True)
class Confirmation:
    payment: Payment
    newly_confirmed: bool


def create_payment(order: Order, *, provider: str) -> Payment:
    """Open the payment of a new order; its gateway trade lives exactly as long as the order's reservation."""
    return Payment.objects.create(
        order=order,
        provider=provider,
        amount=order.total,
        state=Payment.State.PENDING,
        created_at=order.created_at,
        expires_at=order.expires_at,
    )


def start_topup(user: User, *, amount: Decimal, provider: str) -> Payment:
    """Open a wallet top-up (充值) of `amount` yuan through a gateway; the wallet is credited on confirmation."""
    if amount != round_fen(amount) or not settings.TOPUP_MIN <= amount <= settings.TOPUP_MAX:
        raise TopUpError(
            _("Top up between ¥%(low)s and ¥%(high)s, in yuan and fen.")
            % {"low": settings.TOPUP_MIN, "high": settings.TOPUP_MAX}
        )
    gateway = get_provider(provider)
    if gateway is None or not gateway.resumable or not gateway.is_available(user=user):
        raise TopUpError(_("This payment method is not available."))
    now = timezone.now()
    return Payment.objects.create(
        purpose=Payment.Purpose.TOPUP,
        user=user,
        provider=provider,
        amount=Money(amount, "CNY"),
        state=Payment.State.PENDING,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.TOPUP_MINUTES),
    )


def start_payment(payment: Payment, *, request: HttpRequest) -> PaymentAction:
    """Ask the provider how the shopper pays `payment`.

    The QR content is kept on the payment, so reopening the payment page asks the gateway only once.
    """
    action = get_provider(payment.provider).start(payment, request=request)
    if action.qr_content and action.qr_content != payment.qr_content:
        payment.qr_content = action.qr_content
        payment.save(update_fields=["qr_content"])
    return action


def confirm_payment(payment_id: int, *, amount: Decimal, gateway_trade_no: str, provider: str) -> Confirmation:
    """Confirm a payment exactly once; in the same transaction its order becomes paid or its top-up is credited.

    Locks the payment row first, so concurrent duplicate notifications queue up here and all but the
    first return `newly_confirmed=False`. Raises PaymentMismatch if the amount is not exactly ours.
    A payment already closed at the gateway is still confirmed: the money was taken, so it is honoured.
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
        if payment.order_id:
            order = Order.objects.select_for_update(of=("self",)).select_related("sku").get(pk=payment.order_id)
            order_services.mark_paid(order, payment_id=payment.pk)
        else:
            wallet_services.credit_wallet(
                payment.user,
                payment.amount,
                actor=None,
                kind=WalletEntry.Kind.TOPUP,
                reference=payment.trade_no,
                note=_provider_name(provider),
            )
    logger.info("payment %s confirmed (%s)", payment.trade_no, payment.purpose)
    return Confirmation(payment=payment, newly_confirmed=True)


def _provider_name(code: str) -> str:
    """The provider's name in the shop's language, for ledger notes that outlive the request."""
    provider = get_provider(code)
    with translation.override(settings.LANGUAGE_CODE):
        return str(provider.verbose_name) if provider else code


def pay_with_balance(payment: Payment, *, user: User) -> Confirmation:
    """Debit the buyer's wallet and confirm the payment in one transaction; never overdraws."""
    if payment.order is None or payment.order.user_id != user.pk:
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


def close_payment(payment_id: int) -> bool:
    """Record that a pending payment's gateway trade is closed and can no longer be paid."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.state != Payment.State.PENDING:
            return False
        payment.state = Payment.State.CANCELLED
        payment.closed_at = timezone.now()
        payment.save(update_fields=["state", "closed_at"])
    logger.info("payment %s closed at %s", payment.trade_no, payment.provider)
    return True
