"""模拟支付: a local gateway for development and tests.

Its page plays the gateway's cashier. When the shopper pays there, the "gateway" sends a signed
notification to /payments/sandbox/notify/ over HTTP from a background task, exactly as a real gateway
calls back; the notification is verified like any other. Off in production; outside it, unless
SANDBOX_PAYMENTS_ENABLED is set, only for requests made on the machine that runs the shop.
"""

import hashlib
import hmac
import secrets
import time

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kamen.http import is_loopback_request
from kamen.money import parse_yuan

from .base import (
    BasePaymentProvider,
    NotificationRejected,
    PaymentAction,
    RefundOutcome,
    RefundResult,
    VerifiedNotification,
)

REQUIRED = ("trade_no", "total_amount", "gateway_trade_no", "trade_status", "timestamp", "notify_id", "sign")


def sign(params: dict[str, str], key: str) -> str:
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    return hmac.new(key.encode(), content.encode(), hashlib.sha256).hexdigest()


def build_notification(payment, *, status: str = "SUCCESS") -> dict[str, str]:
    """The form body the sandbox gateway posts for `payment`, signed with the sandbox key."""
    params = {
        "trade_no": payment.trade_no,
        "total_amount": f"{payment.amount.amount:.2f}",
        "gateway_trade_no": f"SBX{payment.pk}{secrets.token_hex(6).upper()}",
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


class SandboxProvider(BasePaymentProvider):
    code = "sandbox"
    verbose_name = _("Sandbox payment (test)")
    resumable = True

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
        return VerifiedNotification(
            trade_no=params["trade_no"], amount=amount, gateway_trade_no=params["gateway_trade_no"]
        )

    def refund(self, refund) -> RefundResult:
        """The test gateway refunds at once; the refund number stands in for its refund id."""
        return RefundResult(RefundOutcome.SUCCEEDED, gateway_refund_id=f"SBX{refund.refund_no}")

    def query_refund(self, refund) -> RefundResult:
        return RefundResult(RefundOutcome.SUCCEEDED, gateway_refund_id=f"SBX{refund.refund_no}")
