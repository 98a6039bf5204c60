"""微信支付 APIv3: Native QR codes (PC) and H5 pay (phone browsers), with verified notifications, queries,
closes and refunds.

`wechatpayv3` signs our requests with the merchant key (PKCS#8) and verifies WeChat Pay's answers and
notifications with WeChat Pay's public key (public-key mode) or with the platform certificates kept in
WECHATPAY_CERT_DIR (certificate mode). The SDK downloads certificates whenever it meets a serial it
does not know, so a notification's serial is checked against our configuration before the SDK sees
it: a forged request can never make the server call out. Amounts are integer fen, never float.
"""

import json
import string
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wechatpayv3 import WeChatPay, WeChatPayType

from kamen.http import client_ip
from kamen.money import to_fen, yuan_from_fen

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
from .wechat_config import WeChatPayConfig, cached_client, platform_certificates

if TYPE_CHECKING:
    from payments.models import Payment, Refund

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# A notification stamped further ahead than this is refused (clocks drift a little, not minutes).
FUTURE_SKEW_SECONDS = 60
PAID_EVENT = "TRANSACTION.SUCCESS"
REFUND_EVENTS = ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED")
TRADE_STATES = {
    "SUCCESS": TradeState.PAID,
    "NOTPAY": TradeState.WAITING,
    "USERPAYING": TradeState.WAITING,
    "CLOSED": TradeState.CLOSED,
    "REVOKED": TradeState.CLOSED,
    "PAYERROR": TradeState.CLOSED,
}
REFUND_STATES = {
    "SUCCESS": RefundOutcome.SUCCEEDED,
    "PROCESSING": RefundOutcome.PROCESSING,
    "ABNORMAL": RefundOutcome.FAILED,
    "CLOSED": RefundOutcome.FAILED,
}
# Close answers meaning the trade can no longer be paid: never opened at WeChat Pay, or closed already.
CLOSED_CODES = ("ORDER_NOT_EXIST", "ORDERNOTEXIST", "ORDER_CLOSED")
BEIJING = ZoneInfo("Asia/Shanghai")
FALLBACK_DESCRIPTION = "商品"
DESCRIPTION_MAX_BYTES = 127


class WeChatPayProvider(BasePaymentProvider):
    """微信支付 APIv3, direct merchant (直连商户).

    Configured by WECHATPAY_ENABLED, WECHATPAY_MCHID, WECHATPAY_APPID, WECHATPAY_APIV3_KEY,
    WECHATPAY_CERT_SERIAL_NO and WECHATPAY_PRIVATE_KEY (PKCS#8), plus WECHATPAY_PUBLIC_KEY and
    WECHATPAY_PUBLIC_KEY_ID (public-key mode) or WECHATPAY_CERT_DIR (certificate mode). H5 pay for phone
    browsers needs its own approval and WECHATPAY_H5_ENABLED. Callbacks go to SITE_URL.
    """

    code = "wechat"
    verbose_name = _("WeChat Pay")
    resumable = True
    reconciles = True
    close_not_before = timedelta(minutes=5)

    def is_available(self, *, user) -> bool:
        """Offered only when switched on and every id, key and verification key is configured."""
        return bool(getattr(settings, "WECHATPAY_ENABLED", False)) and WeChatPayConfig.from_settings().complete

    def status_lines(self) -> list[str]:
        """Merchant and app id, the verification mode and H5; never keys."""
        config = WeChatPayConfig.from_settings()
        lines = [f"MCHID {config.mchid or '—'}", f"AppID {config.appid or '—'}"]
        if config.public_key_mode:
            lines.append(gettext("public-key mode, key id %(id)s") % {"id": config.public_key_id})
        elif config.certificate_mode:
            count = len(platform_certificates(config.cert_dir))
            lines.append(
                gettext("platform-certificate mode, %(count)s valid certificates in %(dir)s")
                % {"count": count, "dir": config.cert_dir}
            )
        else:
            lines.append(gettext("no WeChat Pay public key or certificate directory configured"))
        lines.append(
            gettext("H5 pay on") if getattr(settings, "WECHATPAY_H5_ENABLED", False) else gettext("H5 pay off")
        )
        return lines

    # Starting a payment

    def start(self, payment: "Payment", *, request: HttpRequest) -> PaymentAction:
        """Native pay (a QR code to scan in WeChat), or H5 pay in a phone browser when approved.

        A QR code already issued for this trade is shown again without asking WeChat Pay: the trade
        stays a Native trade once opened. Nothing is paid until a notification or a query says so.
        """
        if payment.qr_content:
            return PaymentAction(kind="qr", qr_content=payment.qr_content)
        if getattr(settings, "WECHATPAY_H5_ENABLED", False) and is_phone_browser(request):
            return PaymentAction(kind="redirect", url=self._h5_url(payment, request))
        answer = self._pay(payment, WeChatPayType.NATIVE)
        code_url = answer.get("code_url")
        if not isinstance(code_url, str) or not code_url:
            raise GatewayError(f"WeChat Pay native pay for {payment.trade_no}: no code_url in the answer")
        return PaymentAction(kind="qr", qr_content=code_url)

    def _h5_url(self, payment: "Payment", request: HttpRequest) -> str:
        scene_info = {"payer_client_ip": client_ip(request), "h5_info": {"type": "Wap"}}
        h5_url = self._pay(payment, WeChatPayType.H5, scene_info=scene_info).get("h5_url")
        if not isinstance(h5_url, str) or not h5_url.startswith("https://"):
            raise GatewayError(f"WeChat Pay H5 pay for {payment.trade_no}: no h5_url in the answer")
        # After paying, WeChat sends the shopper back to our payment page, which polls until confirmed.
        back = settings.SITE_URL + reverse("payments:checkout", args=[payment.trade_no])
        return f"{h5_url}&redirect_url={quote(back, safe='')}"

    def _pay(self, payment: "Payment", pay_type: WeChatPayType, **extra: Any) -> dict:
        status, answer = _call(
            "pay",
            self._client().pay,
            description=_description(payment),
            out_trade_no=payment.trade_no,
            amount={"total": to_fen(payment.amount), "currency": "CNY"},
            time_expire=payment.expires_at.astimezone(BEIJING).isoformat(timespec="seconds"),
            notify_url=self._notify_url(),
            pay_type=pay_type,
            **extra,
        )
        if status != 200:
            raise GatewayError(f"WeChat Pay refused pay for {payment.trade_no}: {_refusal(status, answer)}")
        return answer

    # Notifications

    def parse_notification(self, request: HttpRequest) -> VerifiedNotification | VerifiedRefundNotification:
        """Verify WeChat Pay's JSON callback completely or raise NotificationRejected.

        In order: our configuration is complete; a signature is present; the serial names our
        configured key or certificate (before the SDK is built, so nothing calls out); the timestamp is
        fresh; the signature type; the body is one JSON object without repeated keys; the SDK verifies
        the RSA signature and decrypts the resource with the APIv3 key; then the event's own fields.
        WECHATPAY_ENABLED is not checked, so payments started before switching off are still honoured.
        """
        config = WeChatPayConfig.from_settings()
        if not config.can_verify:
            raise NotificationRejected("WeChat Pay merchant id, app id, APIv3 key or verification key not configured")
        headers = request.headers
        if not headers.get("Wechatpay-Signature", "").strip():
            raise NotificationRejected("missing signature")
        _check_serial(config, headers.get("Wechatpay-Serial", ""))
        _check_timestamp(headers.get("Wechatpay-Timestamp", ""))
        if headers.get("Wechatpay-Signature-Type") != SIGNATURE_TYPE:
            raise NotificationRejected(f"signature type is not {SIGNATURE_TYPE}")
        envelope = _json_object(request.body, "body")
        resource = _json_object(self._verified_resource(config, request), "resource")
        event = envelope.get("event_type")
        if event == PAID_EVENT:
            return _paid(resource, config)
        if event in REFUND_EVENTS:
            return _refunded(resource, config)
        raise NotificationRejected(f"event type {str(event)[:40]!r} is not handled")

    def _verified_resource(self, config: WeChatPayConfig, request: HttpRequest) -> str:
        # decrypt_callback (what the SDK's callback() uses) checks the signature and decrypts, returning
        # the plaintext so it is parsed as strictly as the envelope.
        client = self._client(config)
        try:
            plaintext = client.decrypt_callback(request.META, request.body)
        except Exception:  # the SDK raises bare exceptions on malformed serials, algorithms and bodies
            plaintext = None
        if not plaintext:
            raise NotificationRejected("bad signature or undecryptable resource")
        return plaintext

    def notification_response(self, *, accepted: bool, message: str = "") -> HttpResponse:
        """WeChat Pay: 204 is success; a 4xx with {"code": "FAIL"} makes it send again later.

        The reason stays in our notification records; the answer never tells a caller what we checked.
        """
        if accepted:
            return HttpResponse(status=204)
        return JsonResponse({"code": "FAIL", "message": "rejected"}, status=400)

    # Reconciliation

    def query(self, payment: "Payment") -> TradeStatus:
        """查询订单 by our trade number. A trade WeChat Pay has never seen is still "waiting"."""
        config = WeChatPayConfig.from_settings()
        status, answer = _call("query", self._client(config).query, out_trade_no=payment.trade_no, mchid=config.mchid)
        if status == 404 and answer.get("code") == "ORDER_NOT_EXIST":
            return TradeStatus(TradeState.WAITING)
        if status != 200:
            raise GatewayError(f"WeChat Pay query {payment.trade_no}: {_refusal(status, answer)}")
        ours = (config.mchid, config.appid, payment.trade_no)
        if (answer.get("mchid"), answer.get("appid"), answer.get("out_trade_no")) != ours:
            raise GatewayError(f"WeChat Pay query {payment.trade_no}: the answer names another merchant, app or trade")
        state = TRADE_STATES.get(answer.get("trade_state"))
        if state is None:  # REFUND and anything new: paid once, so a person decides
            raise GatewayError(f"WeChat Pay query {payment.trade_no}: trade state {answer.get('trade_state')!r}")
        if state != TradeState.PAID:
            return TradeStatus(state=state)
        total, transaction_id = _paid_fen(answer.get("amount")), answer.get("transaction_id")
        if total is None or not isinstance(transaction_id, str) or not transaction_id:
            raise GatewayError(f"WeChat Pay query {payment.trade_no}: malformed amount or transaction id")
        return TradeStatus(TradeState.PAID, amount=yuan_from_fen(total), gateway_trade_no=transaction_id)

    def close(self, payment: "Payment") -> None:
        """关闭订单. WeChat Pay refuses to close a trade younger than five minutes; ORDERPAID (paid
        meanwhile) raises GatewayError, and the next query confirms the payment."""
        if timezone.now() < payment.created_at + self.close_not_before:
            raise GatewayError(f"WeChat Pay closes {payment.trade_no} no earlier than 5 minutes after it opened")
        status, answer = _call("close", self._client().close, out_trade_no=payment.trade_no)
        if 200 <= status < 300 or answer.get("code") in CLOSED_CODES:
            return
        raise GatewayError(f"WeChat Pay close {payment.trade_no}: {_refusal(status, answer)}")

    # Refunds

    def refund(self, refund: "Refund") -> RefundResult:
        """申请退款 keyed by `refund.refund_no` (out_refund_no): sending it again never refunds twice.

        A refusal with a code (NOT_ENOUGH, INVALID_REQUEST, ...) is "failed"; a timeout, 429 or 5xx
        raises GatewayError, because the outcome is unknown until the same number is asked again.
        """
        payment = refund.payment
        status, answer = _call(
            "refund",
            self._client().refund,
            out_refund_no=refund.refund_no,
            amount={"refund": to_fen(refund.amount), "total": to_fen(payment.amount), "currency": "CNY"},
            out_trade_no=payment.trade_no,
            reason=refund.reason[:80] or None,
            notify_url=self._notify_url(),
        )
        return _refund_result(status, answer, refund)

    def query_refund(self, refund: "Refund") -> RefundResult:
        """查询单笔退款 by our refund number, read the same way as the refund's own answer."""
        status, answer = _call("query refund", self._client().query_refund, out_refund_no=refund.refund_no)
        return _refund_result(status, answer, refund)

    # Helpers

    def _client(self, config: WeChatPayConfig | None = None) -> WeChatPay:
        config = config or WeChatPayConfig.from_settings()
        serials = frozenset(platform_certificates(config.cert_dir)) if config.certificate_mode else frozenset()
        try:
            return cached_client(config, serials)
        except ImproperlyConfigured:
            raise
        except Exception as error:  # bad public key, or certificates could not be downloaded
            raise GatewayError(f"WeChat Pay client: {error}") from error

    def _notify_url(self) -> str:
        return settings.SITE_URL + reverse("payments:notify", args=[self.code])


def _description(payment: "Payment") -> str:
    # WeChat Pay counts the limit in bytes; never cut a character in half.
    text = payment.description.encode("utf-8")[:DESCRIPTION_MAX_BYTES].decode("utf-8", errors="ignore").strip()
    return text or FALLBACK_DESCRIPTION


def _call(what: str, method, **kwargs: Any) -> tuple[int, dict]:
    """Call the SDK; a transport failure or an answer not signed by WeChat Pay becomes GatewayError."""
    try:
        status, text = method(**kwargs)
    except Exception as error:  # requests' exceptions, and the SDK's bare Exception on a bad answer signature
        raise GatewayError(f"WeChat Pay {what}: {type(error).__name__}: {error}") from error
    if isinstance(text, bytes):  # the SDK hands back bytes when the answer is not JSON (204 has no body)
        text = text.decode("utf-8", errors="replace")
    try:
        answer = json.loads(text) if text else {}
    except ValueError:
        answer = {}
    return status, answer if isinstance(answer, dict) else {}


def _refusal(status: int, answer: dict) -> str:
    return f"HTTP {status} {answer.get('code', '')} {answer.get('message', '')}".strip()[:250]


def _refund_result(status: int, answer: dict, refund: "Refund") -> RefundResult:
    if status == 200:
        if answer.get("out_refund_no") != refund.refund_no:
            raise GatewayError(f"WeChat Pay refund {refund.refund_no}: the answer names another refund")
        state = REFUND_STATES.get(answer.get("status"))
        if state is None:
            raise GatewayError(f"WeChat Pay refund {refund.refund_no}: status {answer.get('status')!r}")
        refund_id = answer.get("refund_id")
        return RefundResult(state=state, gateway_refund_id=refund_id if isinstance(refund_id, str) else "")
    if 400 <= status < 500 and status != 429 and answer.get("code"):
        return RefundResult(RefundOutcome.FAILED, message=f"{answer['code']}: {answer.get('message', '')}"[:300])
    raise GatewayError(f"WeChat Pay refund {refund.refund_no}: {_refusal(status, answer)}")


# Notification checks: each raises NotificationRejected with a short reason.


def _check_serial(config: WeChatPayConfig, serial: str) -> None:
    if config.public_key_mode:
        known = serial == config.public_key_id
    else:
        known = (
            0 < len(serial) <= 64
            and all(c in string.hexdigits for c in serial)
            and int(serial, 16) in platform_certificates(config.cert_dir)
        )
    if not known:
        raise NotificationRejected("unknown Wechatpay-Serial")


def _check_timestamp(value: str) -> None:
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        raise NotificationRejected("malformed timestamp")
    age = time.time() - int(value)
    if age > settings.PAYMENT_NOTIFICATION_MAX_AGE.total_seconds():
        raise NotificationRejected("stale notification")
    if age < -FUTURE_SKEW_SECONDS:
        raise NotificationRejected("timestamp in the future")


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [key for key, _value in pairs]
    if len(set(keys)) != len(keys):
        raise _RepeatedKey(next(key for key in keys if keys.count(key) > 1))
    return dict(pairs)


def _json_object(raw: bytes | str, what: str) -> dict:
    # Python keeps the last of repeated keys and other parsers the first: a repeat is refused outright.
    try:
        value = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw, object_pairs_hook=_unique_keys)
    except _RepeatedKey as repeated:
        raise NotificationRejected(f"repeated key {str(repeated)[:40]!r} in {what}") from None
    except ValueError:  # includes UnicodeDecodeError and JSONDecodeError
        raise NotificationRejected(f"{what} is not well-formed JSON") from None
    if not isinstance(value, dict):
        raise NotificationRejected(f"{what} is not a JSON object")
    return value


def _text(resource: dict, name: str) -> str:
    value = resource.get(name)
    if not isinstance(value, str) or not value:
        raise NotificationRejected(f"missing {name}")
    return value


def _expect(resource: dict, name: str, ours: str) -> None:
    value = _text(resource, name)
    if value != ours:
        raise NotificationRejected(f"{name} {value[:40]!r} is not ours")


def _paid_fen(amount: object) -> int | None:
    """amount.total of a WeChat Pay trade: an int of at least 1 fen in CNY; a str, float or bool is refused."""
    if not isinstance(amount, dict):
        return None
    total = amount.get("total")
    if type(total) is not int or total < 1 or amount.get("currency", "CNY") != "CNY":
        return None
    return total


def _paid(resource: dict, config: WeChatPayConfig) -> VerifiedNotification:
    _expect(resource, "mchid", config.mchid)
    _expect(resource, "appid", config.appid)
    trade_no, transaction_id = _text(resource, "out_trade_no"), _text(resource, "transaction_id")
    trade_state = _text(resource, "trade_state")
    if trade_state != "SUCCESS":
        raise NotificationRejected(f"trade state {trade_state[:20]!r} is not SUCCESS")
    total = _paid_fen(resource.get("amount"))
    if total is None:
        raise NotificationRejected("malformed amount")
    return VerifiedNotification(
        trade_no=trade_no, amount=yuan_from_fen(total), gateway_trade_no=transaction_id, payer=_payer_openid(resource)
    )


def _payer_openid(resource: dict) -> str:
    """payer.openid: who paid, as our AppID sees them; "" when absent or not a string (never a reason to refuse)."""
    payer = resource.get("payer")
    openid = payer.get("openid") if isinstance(payer, dict) else None
    return openid if isinstance(openid, str) else ""


def _refunded(resource: dict, config: WeChatPayConfig) -> VerifiedRefundNotification:
    _expect(resource, "mchid", config.mchid)
    trade_no, refund_no = _text(resource, "out_trade_no"), _text(resource, "out_refund_no")
    refund_status = _text(resource, "refund_status")
    if refund_status not in ("SUCCESS", "ABNORMAL", "CLOSED"):
        raise NotificationRejected(f"refund status {refund_status[:20]!r} is not final")
    refund_id = resource.get("refund_id")
    return VerifiedRefundNotification(
        trade_no=trade_no,
        refund_no=refund_no,
        succeeded=refund_status == "SUCCESS",
        gateway_refund_id=refund_id if isinstance(refund_id, str) else "",
        message=refund_status,
    )
