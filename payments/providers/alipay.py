"""支付宝: Alipay page / wap pay and 当面付 QR codes, with verified async notifications.

Requests are signed by `alipay-sdk-python` with our app key (PKCS#1). The SDK has no notify verifier,
so `parse_notification` rebuilds Alipay's sign content itself and checks it with the SDK's RSA helper.
"""

from typing import TYPE_CHECKING

from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest
from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
from alipay.aop.api.request.AlipayTradeWapPayRequest import AlipayTradeWapPayRequest
from alipay.aop.api.response.AlipayTradePrecreateResponse import AlipayTradePrecreateResponse
from alipay.aop.api.util.SignatureUtils import verify_with_rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kamen.money import parse_yuan

from .base import BasePaymentProvider, NotificationRejected, PaymentAction, VerifiedNotification

if TYPE_CHECKING:
    from payments.models import Payment

DEFAULT_SERVER_URL = "https://openapi.alipay.com/gateway.do"
REQUIRED = ("app_id", "seller_id", "out_trade_no", "trade_no", "trade_status", "total_amount")
PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED")
MOBILE_MARKERS = ("Mobile", "Android", "iPhone")


class AlipayError(Exception):
    """An Alipay API call failed or answered with an error code."""


def _setting(name: str, default: str = "") -> str:
    return getattr(settings, name, default) or default


def notification_sign_content(params: dict[str, str]) -> str:
    """Alipay's notify sign content: all but `sign`/`sign_type`, empty values dropped, sorted, `k=v&...`."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sign", "sign_type") and params[k] != "")


class AlipayProvider(BasePaymentProvider):
    """支付宝 (Alipay Open Platform, RSA2 keys, no public-key certificates).

    Configured by ALIPAY_ENABLED, ALIPAY_APP_ID, ALIPAY_SELLER_ID, ALIPAY_APP_PRIVATE_KEY (PKCS#1 PEM),
    ALIPAY_PUBLIC_KEY (Alipay's PEM public key) and ALIPAY_SERVER_URL; callbacks go to SITE_URL.
    """

    code = "alipay"
    verbose_name = _("Alipay")

    def is_available(self, *, user) -> bool:
        """Offered only when switched on and every key and id is configured."""
        return bool(getattr(settings, "ALIPAY_ENABLED", False)) and all(
            _setting(name)
            for name in ("ALIPAY_APP_ID", "ALIPAY_SELLER_ID", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY")
        )

    def start(self, payment: "Payment", *, request: HttpRequest) -> PaymentAction:
        """Redirect to Alipay's cashier: page pay on a PC, wap pay in a phone browser.

        The signed URL is built locally (no network); nothing is paid until a notification verifies.
        """
        user_agent = request.headers.get("User-Agent", "")
        if any(marker in user_agent for marker in MOBILE_MARKERS):
            alipay_request, product_code = AlipayTradeWapPayRequest(), "QUICK_WAP_WAY"
        else:
            alipay_request, product_code = AlipayTradePagePayRequest(), "FAST_INSTANT_TRADE_PAY"
        alipay_request.biz_content = {**self._biz_content(payment), "product_code": product_code}
        alipay_request.notify_url = self._notify_url()
        alipay_request.return_url = settings.SITE_URL + payment.order.get_absolute_url()
        url = self._client().page_execute(alipay_request, http_method="GET")
        return PaymentAction(kind="redirect", url=url)

    def precreate_qr(self, payment: "Payment") -> str:
        """当面付: ask Alipay for a QR code for `payment` (calls the gateway) and return its content."""
        alipay_request = AlipayTradePrecreateRequest()
        alipay_request.biz_content = self._biz_content(payment)
        alipay_request.notify_url = self._notify_url()
        try:
            # execute() also verifies the response's signature with Alipay's public key.
            text = self._client().execute(alipay_request)
        except Exception as error:  # the SDK raises bare RequestException/ResponseException
            raise AlipayError(f"precreate {payment.trade_no} failed: {error}") from error
        response = AlipayTradePrecreateResponse()
        response.parse_response_content(text)
        if response.code != "10000" or not response.qr_code:
            raise AlipayError(
                f"precreate {payment.trade_no}: {response.code} {response.msg} {response.sub_code} {response.sub_msg}"
            )
        return response.qr_code

    def parse_notification(self, request: HttpRequest) -> VerifiedNotification:
        """Verify Alipay's async notify (a form POST) or raise NotificationRejected.

        Checks: single-valued parameters, an RSA2 signature by the configured Alipay key over Alipay's
        sign content, our app_id and seller_id, a paid status, a strict yuan amount. Refund
        notifications (same URL) are never payments. There is no age limit: Alipay re-sends the
        original notification for about 25 hours, and confirm_payment is idempotent. ALIPAY_ENABLED
        is not checked, so payments started before switching Alipay off are still honoured.
        """
        public_key, app_id, seller_id = (
            _setting(n) for n in ("ALIPAY_PUBLIC_KEY", "ALIPAY_APP_ID", "ALIPAY_SELLER_ID")
        )
        if not (public_key and app_id and seller_id):
            raise NotificationRejected("Alipay public key, app id or seller id not configured")
        params = self._single_valued(request)
        sign = params.get("sign", "")
        if not sign:
            raise NotificationRejected("missing signature")
        if params.get("sign_type") != "RSA2":
            raise NotificationRejected(f"sign type {params.get('sign_type')!r} is not RSA2")
        try:
            # verify_with_rsa returns True or raises (bad base64, bad key, mismatch): all mean forged.
            valid = verify_with_rsa(public_key, notification_sign_content(params).encode("utf-8"), sign)
        except Exception:
            valid = False
        if not valid:
            raise NotificationRejected("bad signature")
        missing = [name for name in REQUIRED if not params.get(name)]
        if missing:
            raise NotificationRejected(f"missing parameters: {', '.join(missing)}")
        if params["app_id"] != app_id:
            raise NotificationRejected(f"app_id {params['app_id']!r} is not ours")
        if params["seller_id"] != seller_id:
            raise NotificationRejected(f"seller_id {params['seller_id']!r} is not ours")
        # A partial refund arrives as TRADE_SUCCESS with refund_fee; a full one as TRADE_CLOSED.
        if "refund_fee" in params or "gmt_refund" in params or params["trade_status"] == "TRADE_CLOSED":
            raise NotificationRejected("refund notification")
        if params["trade_status"] not in PAID_STATUSES:
            raise NotificationRejected(f"trade status {params['trade_status']!r} is not a payment")
        amount = parse_yuan(params["total_amount"])
        if amount is None:
            raise NotificationRejected("malformed amount")
        return VerifiedNotification(trade_no=params["out_trade_no"], amount=amount, gateway_trade_no=params["trade_no"])

    # notification_response: the base class already answers exactly "success" (200) or "fail" (400);
    # Alipay re-sends on anything but "success".

    @staticmethod
    def _single_valued(request: HttpRequest) -> dict[str, str]:
        form = request.POST
        for name in form:
            if len(form.getlist(name)) != 1 or name.endswith("[]"):
                raise NotificationRejected(f"parameter {name!r} appears more than once or as an array")
        return {name: form[name] for name in form}

    def _client(self) -> DefaultAlipayClient:
        private_key = _setting("ALIPAY_APP_PRIVATE_KEY")
        if "BEGIN PRIVATE KEY" in private_key:
            # The SDK loads only PKCS#1 keys and fails with an obscure error on PKCS#8.
            raise ImproperlyConfigured("ALIPAY_APP_PRIVATE_KEY must be PKCS#1 (BEGIN RSA PRIVATE KEY)")
        config = AlipayClientConfig()
        config.app_id = _setting("ALIPAY_APP_ID")
        config.app_private_key = private_key
        config.alipay_public_key = _setting("ALIPAY_PUBLIC_KEY")
        config.sign_type = "RSA2"
        config.server_url = _setting("ALIPAY_SERVER_URL", DEFAULT_SERVER_URL)
        config.timeout = 10
        return DefaultAlipayClient(config)

    def _notify_url(self) -> str:
        return settings.SITE_URL + reverse("payments:notify", args=[self.code])

    @staticmethod
    def _biz_content(payment: "Payment") -> dict[str, str]:
        order = payment.order
        # Alipay refuses / = & in a subject.
        subject = f"{order.product_title} {order.sku_name}".translate(str.maketrans("/=&", "   "))[:128]
        # Round down so Alipay closes the trade no later than our code reservation ends.
        minutes = max(1, int((order.expires_at - timezone.now()).total_seconds() // 60))
        return {
            "out_trade_no": payment.trade_no,
            "total_amount": f"{payment.amount.amount:.2f}",
            "subject": subject,
            "timeout_express": f"{minutes}m",
        }
