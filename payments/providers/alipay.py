"""支付宝: Alipay page / wap pay and 当面付 QR codes, verified async notifications, query, close and refunds.

Requests are signed by `alipay-sdk-python` with our app key (PKCS#1), and `execute` verifies every
gateway answer against Alipay's public key before we read it. The SDK has no notify verifier, so
`parse_notification` rebuilds Alipay's sign content itself and checks it as RSA2 and nothing else
(the SDK's helper accepts any digest and parses the key anew for every call).
"""

import base64
import binascii
import functools
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.request.AlipayTradeCloseRequest import AlipayTradeCloseRequest
from alipay.aop.api.request.AlipayTradeFastpayRefundQueryRequest import AlipayTradeFastpayRefundQueryRequest
from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest
from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from alipay.aop.api.request.AlipayTradeWapPayRequest import AlipayTradeWapPayRequest
from alipay.aop.api.response.AlipayResponse import AlipayResponse
from alipay.aop.api.response.AlipayTradeCloseResponse import AlipayTradeCloseResponse
from alipay.aop.api.response.AlipayTradeFastpayRefundQueryResponse import AlipayTradeFastpayRefundQueryResponse
from alipay.aop.api.response.AlipayTradePrecreateResponse import AlipayTradePrecreateResponse
from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
from alipay.aop.api.response.AlipayTradeRefundResponse import AlipayTradeRefundResponse
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

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
    VerifiedRefundNotification,
    is_phone_browser,
)

if TYPE_CHECKING:
    from payments.models import Payment, Refund

logger = logging.getLogger(__name__)

DEFAULT_SERVER_URL = "https://openapi.alipay.com/gateway.do"
REQUIRED = ("app_id", "seller_id", "out_trade_no", "trade_no", "trade_status", "total_amount", "notify_time")
# Alipay re-sends an unanswered notification for about 25 hours; anything older can only be a replay.
NOTIFICATION_MAX_AGE = timedelta(hours=26)
CLOCK_SKEW = timedelta(minutes=5)
PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED")
UNPAID_STATES = {"WAIT_BUYER_PAY": TradeState.WAITING, "TRADE_CLOSED": TradeState.CLOSED}
SUCCESS = "10000"
BUSINESS_FAILURE = "40004"
# Listed by Alipay among business errors, but it means "try again with the same parameters".
RETRY_SUB_CODES = ("ACQ.SYSTEM_ERROR",)
BEIJING = ZoneInfo("Asia/Shanghai")
# The payer's Alipay bill shows the subject; the shop sells in Chinese.
FALLBACK_SUBJECT = "商品"
# Alipay may not show a refund in its refund query until a little after it accepted it.
REFUND_RECORD_GRACE = timedelta(minutes=30)


class AlipayError(GatewayError):
    """An Alipay API call failed or answered with an error code."""


def _setting(name: str, default: str = "") -> str:
    return getattr(settings, name, default) or default


@functools.lru_cache(maxsize=4)
def _public_key(text: str):
    """Alipay's public key, parsed once per process rather than once per notification."""
    return serialization.load_pem_public_key(text.encode("ascii"))


def signature_valid(public_key: str, content: bytes, sign: str) -> bool:
    """RSA2: PKCS#1 v1.5 over SHA-256, and only SHA-256 (a signature over another digest is not RSA2)."""
    try:
        signature = base64.b64decode(sign, validate=True)
        _public_key(public_key).verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, TypeError, binascii.Error, InvalidSignature):
        return False
    return True


def notification_sign_content(params: dict[str, str]) -> str:
    """Alipay's notify sign content: all but `sign`/`sign_type`, empty values dropped, sorted, `k=v&...`."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sign", "sign_type") and params[k] != "")


def _describe(answer: AlipayResponse) -> str:
    return f"{answer.code} {answer.msg} {answer.sub_code or ''} {answer.sub_msg or ''}".strip()


def _beijing_time(moment: datetime) -> str:
    # Whole seconds, rounded down, so Alipay never keeps a trade open past our own deadline.
    return timezone.localtime(moment, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _subject(payment: "Payment") -> str:
    # Alipay refuses / = & in a subject.
    return payment.description.translate(str.maketrans("/=&", "   "))[:128].strip() or FALLBACK_SUBJECT


class AlipayProvider(BasePaymentProvider):
    """支付宝 (Alipay Open Platform, RSA2 keys, no public-key certificates).

    Configured by ALIPAY_ENABLED, ALIPAY_APP_ID, ALIPAY_SELLER_ID, ALIPAY_APP_PRIVATE_KEY (PKCS#1 PEM),
    ALIPAY_PUBLIC_KEY (Alipay's PEM public key) and ALIPAY_SERVER_URL; callbacks go to SITE_URL.
    """

    code = "alipay"
    verbose_name = _("Alipay")
    resumable = True
    reconciles = True

    def is_available(self, *, user) -> bool:
        """Offered only when switched on and every key and id is configured."""
        return bool(getattr(settings, "ALIPAY_ENABLED", False)) and all(
            _setting(name)
            for name in ("ALIPAY_APP_ID", "ALIPAY_SELLER_ID", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY")
        )

    def status_lines(self) -> list[str]:
        """App id, seller id and gateway host; keys are never shown."""
        host = urlsplit(_setting("ALIPAY_SERVER_URL", DEFAULT_SERVER_URL)).hostname or "?"
        return [
            f"AppID {_setting('ALIPAY_APP_ID', '—')}",
            f"PID {_setting('ALIPAY_SELLER_ID', '—')}",
            gettext("gateway %(host)s") % {"host": host + (" (sandbox)" if "alipaydev" in host else "")},
        ]

    # Starting a payment

    def start(self, payment: "Payment", *, request: HttpRequest) -> PaymentAction:
        """A 当面付 QR code for our payment page, plus Alipay's own cashier (page pay / wap pay) as `url`.

        The QR content already on the payment is reused, so reopening the page does not call the
        gateway; the caller stores a new one. Without a QR code (当面付 not signed, gateway down) the
        shopper goes straight to the cashier, whose URL is built locally. Nothing is paid until a
        notification or a query says so.
        """
        web_url = self._web_pay_url(payment, request)
        qr_content = payment.qr_content
        if not qr_content:
            try:
                qr_content = self.precreate_qr(payment)
            except AlipayError as error:
                logger.warning("payment %s: no Alipay QR code, using the cashier page: %s", payment.trade_no, error)
                return PaymentAction(kind="redirect", url=web_url)
        return PaymentAction(kind="qr", qr_content=qr_content, url=web_url)

    def precreate_qr(self, payment: "Payment") -> str:
        """当面付: ask Alipay for a QR code for `payment` (calls the gateway) and return its content."""
        alipay_request = AlipayTradePrecreateRequest()
        alipay_request.biz_content = self._biz_content(payment)
        alipay_request.notify_url = self._notify_url()
        answer = self._call(alipay_request, AlipayTradePrecreateResponse, f"precreate {payment.trade_no}")
        if answer.code != SUCCESS or not answer.qr_code:
            raise AlipayError(f"precreate {payment.trade_no}: {_describe(answer)}")
        return answer.qr_code

    def _web_pay_url(self, payment: "Payment", request: HttpRequest) -> str:
        """The signed cashier URL: page pay on a PC, wap pay in a phone browser (built locally)."""
        biz_content = self._biz_content(payment)
        if is_phone_browser(request):
            alipay_request = AlipayTradeWapPayRequest()
            # Where Alipay's "back" button leads: our payment page, which still offers the QR code.
            quit_url = settings.SITE_URL + reverse("payments:checkout", args=[payment.trade_no])
            biz_content.update(product_code="QUICK_WAP_WAY", quit_url=quit_url)
        else:
            alipay_request = AlipayTradePagePayRequest()
            biz_content.update(product_code="FAST_INSTANT_TRADE_PAY")
        alipay_request.biz_content = biz_content
        alipay_request.notify_url = self._notify_url()
        alipay_request.return_url = settings.SITE_URL + payment.get_absolute_url()
        return self._client().page_execute(alipay_request, http_method="GET")

    # Notifications

    def parse_notification(self, request: HttpRequest) -> VerifiedNotification | VerifiedRefundNotification:
        """Verify Alipay's async notify (a form POST) or raise NotificationRejected.

        Checks: single-valued parameters, an RSA2 signature by the configured Alipay key over Alipay's
        sign content, our app_id and seller_id. Refunds notify the same URL (a partial one as
        TRADE_SUCCESS with refund_fee, a full one as TRADE_CLOSED with refund_fee) and come back as
        VerifiedRefundNotification; otherwise a paid status and a strict yuan amount are required, and
        the payer is Alipay's buyer_id (or buyer_open_id).
        A notification older than Alipay's re-send window (about 25 hours) is stale; within it,
        confirm_payment makes a re-sent one change nothing twice. ALIPAY_ENABLED is not checked, so
        payments started before switching Alipay off are still honoured.
        """
        params = self._verified_params(request)
        # Presence, not value: an empty parameter is outside the signature, so a refund notification
        # can never be made to look like a payment by blanking it.
        if "refund_fee" in params or "gmt_refund" in params:
            return VerifiedRefundNotification(
                trade_no=params["out_trade_no"],
                refund_no=params.get("out_biz_no", ""),  # our out_request_no, echoed
                succeeded=True,
                gateway_refund_id=params["trade_no"],
                message=f"refund_fee {params.get('refund_fee', '')}",
            )
        if params["trade_status"] == "TRADE_CLOSED":
            # An unpaid trade closed on timeout: nothing was paid, and nothing may be confirmed.
            raise NotificationRejected("trade closed unpaid")
        if params["trade_status"] not in PAID_STATUSES:
            raise NotificationRejected(f"trade status {params['trade_status']!r} is not a payment")
        amount = parse_yuan(params["total_amount"])
        if amount is None:
            raise NotificationRejected("malformed amount")
        return VerifiedNotification(
            trade_no=params["out_trade_no"],
            amount=amount,
            gateway_trade_no=params["trade_no"],
            # Both are signed like every other parameter. Apps that Alipay moved to OpenID mode get
            # buyer_open_id instead of the 2088… buyer_id.
            payer=params.get("buyer_id") or params.get("buyer_open_id", ""),
        )

    # notification_response: the base class already answers exactly "success" (200) or "fail" (400);
    # Alipay re-sends on anything but "success".

    def _verified_params(self, request: HttpRequest) -> dict[str, str]:
        """The notification's parameters, once signed by Alipay's key and addressed to our app and seller."""
        public_key, app_id, seller_id = (
            _setting(n) for n in ("ALIPAY_PUBLIC_KEY", "ALIPAY_APP_ID", "ALIPAY_SELLER_ID")
        )
        if not (public_key and app_id and seller_id):
            raise NotificationRejected("Alipay public key, app id or seller id not configured")
        params = self._single_valued(request)
        if not params.get("sign", ""):
            raise NotificationRejected("missing signature")
        if params.get("sign_type") != "RSA2":
            raise NotificationRejected(f"sign type {params.get('sign_type')!r} is not RSA2")
        if not signature_valid(public_key, notification_sign_content(params).encode("utf-8"), params["sign"]):
            raise NotificationRejected("bad signature")
        missing = [name for name in REQUIRED if not params.get(name)]
        if missing:
            raise NotificationRejected(f"missing parameters: {', '.join(missing)}")
        if params["app_id"] != app_id:
            raise NotificationRejected(f"app_id {params['app_id']!r} is not ours")
        if params["seller_id"] != seller_id:
            raise NotificationRejected(f"seller_id {params['seller_id']!r} is not ours")
        _check_notify_time(params["notify_time"])
        return params

    @staticmethod
    def _single_valued(request: HttpRequest) -> dict[str, str]:
        form = request.POST
        for name in form:
            if len(form.getlist(name)) != 1 or name.endswith("[]"):
                raise NotificationRejected(f"parameter {name!r} appears more than once or as an array")
        return {name: form[name] for name in form}

    # Reconciliation

    def query(self, payment: "Payment") -> TradeStatus:
        """alipay.trade.query by our trade number: "paid", "waiting" or "closed"; AlipayError otherwise."""
        alipay_request = AlipayTradeQueryRequest()
        alipay_request.biz_content = {"out_trade_no": payment.trade_no}
        answer = self._call(alipay_request, AlipayTradeQueryResponse, f"query {payment.trade_no}")
        if answer.code != SUCCESS:
            if answer.sub_code == "ACQ.TRADE_NOT_EXIST":
                # Page / wap trades reach Alipay only when the shopper opens the cashier.
                return TradeStatus(TradeState.WAITING)
            raise AlipayError(f"query {payment.trade_no}: {_describe(answer)}")
        if answer.out_trade_no != payment.trade_no:
            raise AlipayError(f"query {payment.trade_no}: answer is about {answer.out_trade_no!r}")
        if answer.trade_status in UNPAID_STATES:
            return TradeStatus(UNPAID_STATES[answer.trade_status])
        if answer.trade_status not in PAID_STATUSES:
            raise AlipayError(f"query {payment.trade_no}: unknown trade status {answer.trade_status!r}")
        amount = parse_yuan(answer.total_amount)
        if amount is None or not answer.trade_no:
            raise AlipayError(f"query {payment.trade_no}: malformed amount or trade number")
        return TradeStatus(TradeState.PAID, amount=amount, gateway_trade_no=answer.trade_no)

    def close(self, payment: "Payment") -> None:
        """alipay.trade.close by our trade number; a trade Alipay never saw counts as closed.

        A trade already paid or finished answers ACQ.TRADE_STATUS_ERROR and raises, so the next
        query confirms it instead.
        """
        alipay_request = AlipayTradeCloseRequest()
        alipay_request.biz_content = {"out_trade_no": payment.trade_no}
        answer = self._call(alipay_request, AlipayTradeCloseResponse, f"close {payment.trade_no}")
        if answer.code == SUCCESS or answer.sub_code == "ACQ.TRADE_NOT_EXIST":
            return
        raise AlipayError(f"close {payment.trade_no}: {_describe(answer)}")

    # Refunds

    def refund(self, refund: "Refund") -> RefundResult:
        """alipay.trade.refund with out_request_no = refund.refund_no (Alipay's idempotency key).

        fund_change "Y": money moved now. "N" also answers a repeat of a refund already made, so the
        refund query decides. A business refusal (40004) is "failed"; anything else raises, and the
        caller sends again under the same number.
        """
        alipay_request = AlipayTradeRefundRequest()
        alipay_request.biz_content = {
            "out_trade_no": refund.payment.trade_no,
            "refund_amount": f"{refund.amount.amount:.2f}",
            "out_request_no": refund.refund_no,
            "refund_reason": refund.reason[:256],
        }
        answer = self._call(alipay_request, AlipayTradeRefundResponse, f"refund {refund.refund_no}")
        if answer.code == BUSINESS_FAILURE and answer.sub_code not in RETRY_SUB_CODES:
            return RefundResult(RefundOutcome.FAILED, message=f"{answer.sub_code} {answer.sub_msg}")
        if answer.code != SUCCESS:
            raise AlipayError(f"refund {refund.refund_no}: {_describe(answer)}")
        if answer.out_trade_no != refund.payment.trade_no:
            raise AlipayError(f"refund {refund.refund_no}: answer is about {answer.out_trade_no!r}")
        if answer.fund_change == "Y":
            return RefundResult(
                RefundOutcome.SUCCEEDED,
                gateway_refund_id=answer.trade_no or refund.refund_no,
                message=f"refund_fee {answer.refund_fee}",
            )
        return self.query_refund(refund)

    def query_refund(self, refund: "Refund") -> RefundResult:
        """alipay.trade.fastpay.refund.query by trade and refund number.

        refund_status REFUND_SUCCESS means the money went back. Without it Alipay has no finished
        refund of that number: not received, refused, or (just after sending) not processed yet. So
        it is "processing" for REFUND_RECORD_GRACE after the refund was sent, then "failed" — staff
        can then send it again under the same number, which Alipay never pays twice.
        """
        alipay_request = AlipayTradeFastpayRefundQueryRequest()
        alipay_request.biz_content = {
            "out_trade_no": refund.payment.trade_no,
            "out_request_no": refund.refund_no,
            "query_options": ["gmt_refund_pay"],
        }
        answer = self._call(alipay_request, AlipayTradeFastpayRefundQueryResponse, f"refund query {refund.refund_no}")
        if answer.code != SUCCESS:
            raise AlipayError(f"refund query {refund.refund_no}: {_describe(answer)}")
        if answer.out_request_no and answer.out_request_no != refund.refund_no:
            raise AlipayError(f"refund query {refund.refund_no}: answer is about {answer.out_request_no!r}")
        if answer.refund_status == "REFUND_SUCCESS":
            return RefundResult(
                RefundOutcome.SUCCEEDED,
                gateway_refund_id=answer.trade_no or refund.refund_no,
                message=f"refund_amount {answer.refund_amount} at {answer.gmt_refund_pay or '?'}",
            )
        sent_at = refund.decided_at or refund.created_at
        if timezone.now() - sent_at < REFUND_RECORD_GRACE:
            return RefundResult(RefundOutcome.PROCESSING, message="Alipay has not finished this refund yet")
        return RefundResult(
            RefundOutcome.FAILED, message="Alipay has no finished refund of this number; it was not made"
        )

    # Plumbing

    def _call(self, alipay_request, answer_class: type[AlipayResponse], what: str):
        """Send one API request and parse the answer, whose signature `execute` has checked."""
        client = self._client()
        try:
            text = client.execute(alipay_request)
            answer = answer_class()
            answer.parse_response_content(text)
        except Exception as error:  # the SDK raises bare RequestException/ResponseException
            raise AlipayError(f"{what} failed: {error}") from error
        return answer

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
        # One absolute deadline (time_expire): every request for this trade carries the same value,
        # and a cashier URL opened late still cannot outlive the payment.
        return {
            "out_trade_no": payment.trade_no,
            "total_amount": f"{payment.amount.amount:.2f}",
            "subject": _subject(payment),
            "time_expire": _beijing_time(payment.expires_at),
        }


def _check_notify_time(value: str) -> None:
    """notify_time (Beijing time) within Alipay's re-send window and not from the future."""
    try:
        sent = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        raise NotificationRejected("malformed notify_time") from None
    age = timezone.now() - sent
    if age > NOTIFICATION_MAX_AGE:
        raise NotificationRejected("stale notification")
    if age < -CLOCK_SKEW:
        raise NotificationRejected("notify_time in the future")
