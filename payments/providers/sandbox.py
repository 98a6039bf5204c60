"""模拟支付: a local gateway for development and tests.

Its page plays the gateway's cashier. When the shopper pays there, the "gateway" records the payment
in its own books (SandboxTrade) and sends a signed notification to /payments/sandbox/notify/ over
HTTP from a background task, exactly as a real gateway calls back; the notification is verified like
any other. Like a real gateway it refuses payment after the deadline it was given (time_expire),
answers `query` from its own books, so a notification that never arrived is found by the
reconciliation job, and `close`s trades. Off in production; outside it, unless
SANDBOX_PAYMENTS_ENABLED is set, only for requests made on the machine that runs the shop.
"""

import hashlib
import hmac
import secrets
import time
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kamen.http import is_loopback_request
from kamen.money import parse_yuan

from .base import (
    BasePaymentProvider,
    GatewayError,
    NotificationRejected,
    PaymentAction,
    RefundOutcome,
    RefundResult,
    TradeState,
    TradeStatus,
    VerifiedNotification,
)

REQUIRED = ("trade_no", "total_amount", "gateway_trade_no", "trade_status", "timestamp", "notify_id", "sign")


def sign(params: dict[str, str], key: str) -> str:
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    return hmac.new(key.encode(), content.encode(), hashlib.sha256).hexdigest()


def build_notification(payment, *, status: str = "SUCCESS") -> dict[str, str]:
    """The form body the sandbox gateway posts for `payment` (or its SandboxTrade), signed with the sandbox key."""
    params = {
        "trade_no": payment.trade_no,
        "total_amount": f"{payment.amount.amount:.2f}",
        "gateway_trade_no": getattr(payment, "gateway_trade_no", "") or _new_gateway_trade_no(),
        "trade_status": status,
        "timestamp": str(int(time.time())),
        "notify_id": secrets.token_hex(16),
    }
    params["sign"] = sign(params, settings.SANDBOX_SIGNING_KEY)
    return params


def serves(request: HttpRequest) -> bool:
    """Whether this request may use the sandbox: its cashier, its pay action, its notifications.

    Where the sandbox is on only because the shop runs on loopback, a request from any other
    address (or through a proxy) is refused: nobody elsewhere gets codes without paying.
    """
    if not settings.SANDBOX_PAYMENTS_ENABLED:
        return False
    return not settings.SANDBOX_PAYMENTS_LOOPBACK_ONLY or is_loopback_request(request)


def _new_gateway_trade_no() -> str:
    return f"SBX{secrets.token_hex(10).upper()}"


# ---------------------------------------------------------------------------------------------------
# The gateway's side
# ---------------------------------------------------------------------------------------------------
class CashierRefused(Exception):
    """The sandbox cashier will not take this payment; the message is for the shopper. Nothing was charged."""


def take_payment(payment, *, now: datetime | None = None):
    """The shopper pays `payment` at the sandbox cashier; returns the gateway's record of it.

    Paying twice charges once (the same SandboxTrade comes back). Refused with CashierRefused after
    the payment's deadline or once the trade was closed, as real gateways refuse after time_expire.
    """
    from payments.models import SandboxTrade

    now = now or timezone.now()
    trade = SandboxTrade.objects.filter(trade_no=payment.trade_no).first()
    if trade is None:
        if now >= payment.expires_at:
            raise CashierRefused(gettext("The time to pay for this order is over. Nothing was charged."))
        trade, _created = SandboxTrade.objects.get_or_create(
            trade_no=payment.trade_no,
            defaults={
                "gateway_trade_no": _new_gateway_trade_no(),
                "amount": payment.amount,
                "state": SandboxTrade.State.PAID,
                "expires_at": payment.expires_at,
                "paid_at": now,
            },
        )
    if trade.state != SandboxTrade.State.PAID:
        raise CashierRefused(gettext("This trade was closed and can no longer be paid. Nothing was charged."))
    return trade


def close_trade(payment, *, now: datetime | None = None) -> None:
    """Close the trade on the gateway's side; raises GatewayError if it was paid meanwhile."""
    from payments.models import SandboxTrade

    trade, _created = SandboxTrade.objects.get_or_create(
        trade_no=payment.trade_no,
        defaults={
            "gateway_trade_no": _new_gateway_trade_no(),
            "amount": payment.amount,
            "state": SandboxTrade.State.CLOSED,
            "expires_at": payment.expires_at,
            "closed_at": now or timezone.now(),
        },
    )
    if trade.state == SandboxTrade.State.PAID:
        raise GatewayError(f"sandbox trade {payment.trade_no} is paid; it cannot be closed")


class SandboxProvider(BasePaymentProvider):
    code = "sandbox"
    verbose_name = _("Sandbox payment (test)")
    resumable = True
    reconciles = True

    def status_lines(self) -> list[str]:
        return [gettext("test gateway: no real money moves; always off in production")]

    def is_available(self, *, user) -> bool:
        return settings.SANDBOX_PAYMENTS_ENABLED

    def start(self, payment, *, request: HttpRequest) -> PaymentAction:
        return PaymentAction(kind="redirect", url=reverse("payments:sandbox", args=[payment.trade_no]))

    def parse_notification(self, request: HttpRequest) -> VerifiedNotification:
        if not serves(request):
            raise NotificationRejected("sandbox payments are off for this address")
        key = settings.SANDBOX_SIGNING_KEY
        if not key:
            raise NotificationRejected("no signing key configured")
        form = request.POST
        for name in form:
            if len(form.getlist(name)) != 1:
                raise NotificationRejected(f"parameter {name!r} appears more than once")
        params = {name: form[name] for name in form}
        missing = [name for name in REQUIRED if not params.get(name)]
        if missing:
            raise NotificationRejected(f"missing parameters: {', '.join(missing)}")
        if not hmac.compare_digest(sign(params, key), params["sign"]):
            raise NotificationRejected("bad signature")
        if not params["timestamp"].isdigit():
            raise NotificationRejected("malformed timestamp")
        age = time.time() - int(params["timestamp"])
        if not -60 <= age <= settings.PAYMENT_NOTIFICATION_MAX_AGE.total_seconds():
            raise NotificationRejected("stale notification")
        if params["trade_status"] != "SUCCESS":
            raise NotificationRejected(f"trade status {params['trade_status']!r} is not a payment")
        amount = parse_yuan(params["total_amount"])
        if amount is None:
            raise NotificationRejected("malformed amount")
        # No payer: the sandbox cashier takes payment from whoever opens it and keeps no account of
        # who that was (SandboxTrade has none), so there is nothing to name.
        return VerifiedNotification(
            trade_no=params["trade_no"], amount=amount, gateway_trade_no=params["gateway_trade_no"]
        )

    def query(self, payment) -> TradeStatus:
        """What the sandbox gateway's books say about `payment`: paid, closed, or not paid yet."""
        from payments.models import SandboxTrade

        trade = SandboxTrade.objects.filter(trade_no=payment.trade_no).first()
        if trade is None:
            return TradeStatus(TradeState.WAITING)
        if trade.state == SandboxTrade.State.PAID:
            return TradeStatus(TradeState.PAID, amount=trade.amount.amount, gateway_trade_no=trade.gateway_trade_no)
        return TradeStatus(TradeState.CLOSED)

    def close(self, payment) -> None:
        close_trade(payment)

    def refund(self, refund) -> RefundResult:
        """The test gateway refunds at once; the refund number stands in for its refund id."""
        return RefundResult(RefundOutcome.SUCCEEDED, gateway_refund_id=f"SBX{refund.refund_no}")

    def query_refund(self, refund) -> RefundResult:
        return RefundResult(RefundOutcome.SUCCEEDED, gateway_refund_id=f"SBX{refund.refund_no}")
