"""Payments and wallet top-ups: open one, start it at its provider, confirm it exactly once, close it."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from accounts import services as wallet_services
from accounts.models import User
from kamen.money import cny, round_fen

from ..locks import lock_payment
from ..models import Payment
from ..providers import FREE, get_provider
from ..providers.base import PaymentAction
from ..purposes import TOPUP, get_purpose
from .states import move_payment

logger = logging.getLogger("payments.services")

# What a top-up's payer reads on their gateway bill; the shop sells in Chinese.
TOPUP_DESCRIPTION = "钱包充值"


class PaymentMismatch(Exception):
    """A notification names a payment that exists but does not match it (amount, provider)."""


class TopUpError(Exception):
    """A top-up refused for a reason the user should read; nothing was written."""


@dataclass(frozen=True)
class Confirmation:
    payment: Payment
    newly_confirmed: bool


def create_payment(
    purpose: str,
    *,
    amount: Money,
    provider: str,
    description: str,
    reference: str = "",
    user: User | None,
    created_at: datetime,
    expires_at: datetime,
) -> Payment:
    """Open a pending payment of `amount` for `purpose`; its gateway trade lives until `expires_at`.

    The caller (the purpose's own service) links it to what it pays for in the same transaction.
    """
    return Payment.objects.create(
        purpose=purpose,
        amount=amount,
        provider=provider,
        description=description[:128],
        reference=reference,
        user=user,
        state=Payment.State.PENDING,
        created_at=created_at,
        expires_at=expires_at,
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
    return create_payment(
        TOPUP,
        amount=cny(amount),
        provider=provider,
        description=TOPUP_DESCRIPTION,
        user=user,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.TOPUP_MINUTES),
    )


def is_payable(payment: Payment, *, now: datetime | None = None) -> bool:
    """Whether `payment` can still be paid: pending, not past its deadline, and still wanted by its purpose."""
    now = now or timezone.now()
    if payment.state != Payment.State.PENDING or payment.expires_at <= now:
        return False
    return get_purpose(payment.purpose).is_payable(payment)


def start_payment(payment: Payment, *, request: HttpRequest) -> PaymentAction:
    """Ask the provider how the shopper pays `payment`.

    The QR content is kept on the payment, so reopening the payment page asks the gateway only once.
    """
    action = get_provider(payment.provider).start(payment, request=request)
    if action.qr_content and action.qr_content != payment.qr_content:
        payment.qr_content = action.qr_content
        payment.save(update_fields=["qr_content"])
    return action


def confirm_payment(
    payment_id: int, *, amount: Decimal, gateway_trade_no: str, provider: str, payer: str = ""
) -> Confirmation:
    """Confirm a payment exactly once; in the same transaction its purpose delivers what it pays for.

    Locks the payment row first, so concurrent duplicate notifications queue up here and all but the
    first return `newly_confirmed=False`. Raises PaymentMismatch if the amount is not exactly ours.
    A payment already closed at the gateway is still confirmed: the money was taken, so it is honoured.
    """
    with transaction.atomic():
        payment = lock_payment(payment_id)
        if payment.provider != provider:
            raise PaymentMismatch(f"payment {payment.trade_no} belongs to {payment.provider}, not {provider}")
        if payment.amount.amount != amount:
            raise PaymentMismatch(f"payment {payment.trade_no}: amount {amount} != {payment.amount.amount}")
        if payment.state == Payment.State.CONFIRMED:
            return Confirmation(payment=payment, newly_confirmed=False)
        move_payment(
            payment,
            Payment.State.CONFIRMED,
            gateway_trade_no=gateway_trade_no,
            payer_account=payer[:64],
            confirmed_at=timezone.now(),
        )
        get_purpose(payment.purpose).payment_confirmed(payment)
    logger.info("payment %s confirmed (%s)", payment.trade_no, payment.purpose)
    return Confirmation(payment=payment, newly_confirmed=True)


def pay_with_balance(payment: Payment, *, user: User) -> Confirmation:
    """Debit the payer's wallet and confirm the payment in one transaction; never overdraws."""
    if payment.user_id != user.pk or payment.purpose == TOPUP:
        raise PaymentMismatch("a wallet pays only its owner's purchases")
    with transaction.atomic():
        # Lock the payment before the wallet: a second call for the same payment waits here, then
        # finds it confirmed and debits nothing (confirm_payment alone would still let it debit).
        locked = lock_payment(payment.pk)
        if locked.state == Payment.State.CONFIRMED:
            return Confirmation(payment=locked, newly_confirmed=False)
        change = wallet_services.debit_wallet(
            user, payment.amount, reference=payment.trade_no, note=payment.description
        )
        return confirm_payment(
            payment.pk, amount=payment.amount.amount, gateway_trade_no=f"W{change.entry.pk}", provider="balance"
        )


def confirm_free_payment(payment: Payment) -> Confirmation:
    """Confirm a payment of nothing (an order a coupon made free) at once, with no gateway to ask."""
    if payment.provider != FREE or payment.amount.amount != 0:
        raise PaymentMismatch(f"payment {payment.trade_no} is not a free one")
    return confirm_payment(payment.pk, amount=Decimal("0.00"), gateway_trade_no=f"FREE{payment.pk}", provider=FREE)


def close_payment(payment_id: int) -> bool:
    """Record that a pending payment's gateway trade is closed and can no longer be paid."""
    with transaction.atomic():
        payment = lock_payment(payment_id)
        if payment.state != Payment.State.PENDING:
            return False
        move_payment(payment, Payment.State.CANCELLED, closed_at=timezone.now())
    logger.info("payment %s closed at %s", payment.trade_no, payment.provider)
    return True
