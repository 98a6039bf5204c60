"""WeChat Pay API calls: QR codes and H5 out; queries, closes, refunds, certificates, and a race.

No network: the SDK's `requests` is the `wechat_gateway` fake (kamen/testing/fake_wechat.py).
"""

import base64
import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from urllib.parse import quote

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone, translation
from djmoney.money import Money

from kamen.testing import factories
from kamen.testing.browser import IPHONE_UA, PC_UA
from kamen.testing.factories import order_of
from kamen.testing.fake_wechat import (
    APPID,
    CODE_URL,
    H5_URL,
    MCHID,
    MERCHANT_SERIAL,
    NOTIFY_URL,
    PUBLIC_KEY_ID,
    Call,
    certificate_pem,
    encrypt,
    key_pair,
    refund_answer,
    self_signed_certificate,
)
from kamen.testing.fake_wechat import trade_answer as trade
from payments import services as payment_services
from payments.models import Payment, Refund
from payments.providers import get_provider
from payments.providers.base import (
    GatewayError,
    RefundResult,
    TradeStatus,
)
from payments.providers.wechat_config import serial_hex

# Every test runs with the fake gateway: nothing can reach the network, and every call is recorded.
pytestmark = pytest.mark.usefixtures("wechat_enabled", "wechat_gateway")


@pytest.fixture
def payment(sku):
    return factories.place_order(sku, "wechat").payment


# Starting a payment


def pay_request(user_agent=PC_UA):
    return RequestFactory().get("/checkout/", HTTP_USER_AGENT=user_agent, REMOTE_ADDR="203.0.113.7")


def merchant_signature_verifies(call: Call, public_pem: str) -> bool:
    """The SDK's Authorization header is our merchant key's signature over method, path, time, nonce, body."""
    scheme, _, params = call.headers["Authorization"].partition(" ")
    fields = dict(part.split("=", 1) for part in params.split(","))
    fields = {name: value.strip('"') for name, value in fields.items()}
    body = json.dumps(call.json) if call.json else ""
    message = f"{call.method}\n{call.path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body}\n"
    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        key.verify(base64.b64decode(fields["signature"]), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return scheme == "WECHATPAY2-SHA256-RSA2048" and fields["mchid"] == MCHID and fields["serial_no"] == MERCHANT_SERIAL


def test_start_on_a_pc_shows_a_native_qr_code(payment, wechat_gateway, settings, wechat_merchant_key):
    wechat_gateway.answer(200, {"code_url": CODE_URL})

    action = get_provider("wechat").start(payment, request=pay_request())

    assert (action.kind, action.qr_content, action.url) == ("qr", CODE_URL, "")
    (call,) = wechat_gateway.calls
    assert (call.method, call.path) == ("POST", "/v3/pay/transactions/native")
    expires = timezone.localtime(payment.expires_at).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    assert call.json == {
        "notify_url": settings.SITE_URL + NOTIFY_URL,
        "description": f"{order_of(payment).product_title} {order_of(payment).sku_name} × 2",
        "out_trade_no": payment.trade_no,
        "amount": {"total": 2000, "currency": "CNY"},
        "time_expire": expires,
        "appid": APPID,
        "mchid": MCHID,
    }
    assert call.headers["Wechatpay-Serial"] == PUBLIC_KEY_ID
    assert merchant_signature_verifies(call, wechat_merchant_key.public_pem)


def test_start_shows_the_issued_qr_code_again_without_asking(payment, wechat_gateway):
    payment.qr_content = CODE_URL

    action = get_provider("wechat").start(payment, request=pay_request(IPHONE_UA))

    assert (action.kind, action.qr_content) == ("qr", CODE_URL)
    assert wechat_gateway.calls == []


def test_the_payment_page_asks_wechat_pay_once(payment, wechat_gateway):
    wechat_gateway.answer(200, {"code_url": CODE_URL})

    payment_services.start_payment(payment, request=pay_request())
    action = payment_services.start_payment(Payment.objects.get(pk=payment.pk), request=pay_request())

    assert action.qr_content == CODE_URL
    assert len(wechat_gateway.calls) == 1


def test_start_on_a_phone_without_h5_shows_the_qr_code(payment, wechat_gateway):
    wechat_gateway.answer(200, {"code_url": CODE_URL})

    action = get_provider("wechat").start(payment, request=pay_request(IPHONE_UA))

    assert action.kind == "qr"
    assert wechat_gateway.calls[0].path == "/v3/pay/transactions/native"


def test_start_on_a_phone_with_h5_redirects_to_wechat(payment, wechat_gateway, settings):
    settings.WECHATPAY_H5_ENABLED = True
    wechat_gateway.answer(200, {"h5_url": H5_URL})

    action = get_provider("wechat").start(payment, request=pay_request(IPHONE_UA))

    back = f"{settings.SITE_URL}/payments/pay/{payment.trade_no}/"
    assert action.kind == "redirect"
    assert action.url == f"{H5_URL}&redirect_url={quote(back, safe='')}"
    (call,) = wechat_gateway.calls
    assert call.path == "/v3/pay/transactions/h5"
    assert call.json["scene_info"] == {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}}
    assert call.json["amount"] == {"total": 2000, "currency": "CNY"}


def test_behind_the_shops_proxy_h5_names_the_shoppers_address(payment, wechat_gateway, settings):
    settings.WECHATPAY_H5_ENABLED = True
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    wechat_gateway.answer(200, {"h5_url": H5_URL})
    request = RequestFactory().get(
        "/checkout/", HTTP_USER_AGENT=IPHONE_UA, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.23"
    )

    get_provider("wechat").start(payment, request=request)

    # nginx appends the address it saw; what the client wrote before it is not believed
    assert wechat_gateway.calls[0].json["scene_info"]["payer_client_ip"] == "198.51.100.23"


def test_a_topup_is_described_as_one(shopper, wechat_gateway):
    topup = payment_services.start_topup(shopper, amount=Decimal("50.00"), provider="wechat")
    wechat_gateway.answer(200, {"code_url": CODE_URL})

    get_provider("wechat").start(topup, request=pay_request())

    assert wechat_gateway.calls[0].json["description"] == "钱包充值"
    assert wechat_gateway.calls[0].json["amount"] == {"total": 5000, "currency": "CNY"}


@pytest.mark.parametrize(
    ("answer", "options", "match"),
    [
        ((400, {"code": "PARAM_ERROR", "message": "参数错误"}), {}, "PARAM_ERROR"),
        ((500, {"code": "SYSTEM_ERROR", "message": "系统错误"}), {}, "SYSTEM_ERROR"),
        ((200, {"prepay_id": "wx1"}), {}, "no code_url"),
        ((200, None), {"raises": requests.exceptions.ReadTimeout("read timed out")}, "ReadTimeout"),
        ((200, {"code_url": "weixin://evil"}), {"forged": True}, "failed to verify the signature"),
    ],
)
def test_start_raises_a_gateway_error_when_wechat_pay_fails(payment, wechat_gateway, answer, options, match):
    wechat_gateway.answer(*answer, **options)

    with pytest.raises(GatewayError, match=match):
        get_provider("wechat").start(payment, request=pay_request())


def test_a_pkcs1_merchant_key_is_refused(payment, settings, wechat_gateway):
    settings.WECHATPAY_PRIVATE_KEY = key_pair(serialization.PrivateFormat.TraditionalOpenSSL).private_pem

    with pytest.raises(ImproperlyConfigured, match="PKCS#8"):
        get_provider("wechat").start(payment, request=pay_request())
    assert wechat_gateway.calls == []


# Queries


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("NOTPAY", TradeStatus(state="waiting")),
        ("USERPAYING", TradeStatus(state="waiting")),
        ("CLOSED", TradeStatus(state="closed")),
        ("REVOKED", TradeStatus(state="closed")),
        ("PAYERROR", TradeStatus(state="closed")),
        ("SUCCESS", TradeStatus(state="paid", amount=Decimal("20.00"), gateway_trade_no="4200002000000000001")),
    ],
)
def test_query_maps_trade_states(payment, wechat_gateway, state, expected):
    wechat_gateway.answer(200, trade(payment, state))

    assert get_provider("wechat").query(payment) == expected
    (call,) = wechat_gateway.calls
    assert (call.method, call.path) == ("GET", f"/v3/pay/transactions/out-trade-no/{payment.trade_no}?mchid={MCHID}")


def test_query_of_a_trade_wechat_pay_never_saw_is_waiting(payment, wechat_gateway):
    wechat_gateway.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})

    assert get_provider("wechat").query(payment) == TradeStatus(state="waiting")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"code": "SYSTEM_ERROR", "message": "系统错误"}),
        (401, {"code": "SIGN_ERROR", "message": "签名错误"}),
        (200, {"mchid": "1900000999"}),
        (200, {"appid": "wx0000000000000999"}),
        (200, {"out_trade_no": "P0"}),
        (200, {"trade_state": "REFUND"}),
        (200, {"amount": {"total": "2000", "currency": "CNY"}}),
        (200, {"transaction_id": ""}),
    ],
)
def test_query_raises_when_it_cannot_tell(payment, wechat_gateway, status, body):
    wechat_gateway.answer(status, trade(payment, "SUCCESS", **body) if status == 200 else body)

    with pytest.raises(GatewayError):
        get_provider("wechat").query(payment)


def test_query_refuses_an_answer_not_signed_by_wechat_pay(payment, wechat_gateway):
    wechat_gateway.answer(200, trade(payment, "SUCCESS"), forged=True)

    with pytest.raises(GatewayError, match="signature"):
        get_provider("wechat").query(payment)


# Closing


@pytest.fixture
def old_payment(payment):
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    return Payment.objects.get(pk=payment.pk)


def test_close_refuses_a_trade_younger_than_five_minutes(payment, wechat_gateway):
    with pytest.raises(GatewayError, match="5 minutes"):
        get_provider("wechat").close(payment)
    assert wechat_gateway.calls == []


def test_close_posts_to_wechat_pay(old_payment, wechat_gateway):
    wechat_gateway.answer(204)

    assert get_provider("wechat").close(old_payment) is None
    (call,) = wechat_gateway.calls
    assert (call.method, call.path) == ("POST", f"/v3/pay/transactions/out-trade-no/{old_payment.trade_no}/close")
    assert call.json == {"mchid": MCHID}


def test_close_of_a_trade_wechat_pay_never_saw_counts_as_closed(old_payment, wechat_gateway):
    wechat_gateway.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})

    assert get_provider("wechat").close(old_payment) is None


@pytest.mark.parametrize(
    ("status", "body", "options"),
    [
        (400, {"code": "ORDERPAID", "message": "订单已支付"}, {}),
        (500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, {}),
        (204, None, {"raises": requests.exceptions.ConnectionError("refused")}),
        (204, None, {"forged": True}),
    ],
)
def test_close_raises_otherwise(old_payment, wechat_gateway, status, body, options):
    wechat_gateway.answer(status, body, **options)

    with pytest.raises(GatewayError):
        get_provider("wechat").close(old_payment)


# Refunds


@pytest.fixture
def refund(payment):
    return Refund(payment=payment, amount=Money("5.00", "CNY"), reason="不想要了")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", RefundResult(state="succeeded", gateway_refund_id="50000000382019052709732678859")),
        ("PROCESSING", RefundResult(state="processing", gateway_refund_id="50000000382019052709732678859")),
        ("ABNORMAL", RefundResult(state="failed", gateway_refund_id="50000000382019052709732678859")),
        ("CLOSED", RefundResult(state="failed", gateway_refund_id="50000000382019052709732678859")),
    ],
)
def test_refund_maps_the_refund_status(refund, wechat_gateway, settings, status, expected):
    wechat_gateway.answer(200, refund_answer(refund, status))

    assert get_provider("wechat").refund(refund) == expected
    (call,) = wechat_gateway.calls
    assert (call.method, call.path) == ("POST", "/v3/refund/domestic/refunds")
    assert call.json == {
        "notify_url": settings.SITE_URL + NOTIFY_URL,
        "out_refund_no": refund.refund_no,
        "amount": {"refund": 500, "total": 2000, "currency": "CNY"},
        "out_trade_no": refund.payment.trade_no,
        "reason": "不想要了",
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, "NOT_ENOUGH"), (400, "INVALID_REQUEST"), (403, "USER_ACCOUNT_ABNORMAL"), (404, "RESOURCE_NOT_EXISTS")],
)
def test_refund_refused_with_a_code_has_failed(refund, wechat_gateway, status, code):
    wechat_gateway.answer(status, {"code": code, "message": "退款被拒绝"})

    assert get_provider("wechat").refund(refund) == RefundResult(state="failed", message=f"{code}: 退款被拒绝")


@pytest.mark.parametrize(
    ("status", "body", "options"),
    [
        (500, {"code": "SYSTEM_ERROR", "message": "系统超时"}, {}),
        (429, {"code": "FREQUENCY_LIMITED", "message": "频率限制"}, {}),
        (200, None, {"raises": requests.exceptions.ReadTimeout("read timed out")}),
        (200, {"status": "SUCCESS", "out_refund_no": "R-someone-else"}, {}),
        (200, {"status": "SUCCESS"}, {"forged": True}),
    ],
)
def test_refund_with_an_unknown_outcome_raises(refund, wechat_gateway, status, body, options):
    wechat_gateway.answer(status, body, **options)

    with pytest.raises(GatewayError):
        get_provider("wechat").refund(refund)


def test_query_refund_maps_the_same_way(refund, wechat_gateway):
    wechat_gateway.answer(200, refund_answer(refund, "SUCCESS"))
    wechat_gateway.answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
    wechat_gateway.answer(500, {"code": "SYSTEM_ERROR", "message": "系统错误"})
    provider = get_provider("wechat")

    assert provider.query_refund(refund).state == "succeeded"
    assert provider.query_refund(refund).state == "failed"
    with pytest.raises(GatewayError):
        provider.query_refund(refund)
    assert [(call.method, call.path) for call in wechat_gateway.calls] == [
        ("GET", f"/v3/refund/domestic/refunds/{refund.refund_no}")
    ] * 3


# Availability and staff facts


def test_wechat_pay_is_offered_only_when_fully_configured(settings):
    provider = get_provider("wechat")
    assert provider.is_available(user=None)

    settings.WECHATPAY_PUBLIC_KEY_ID = ""

    assert not provider.is_available(user=None)


def test_certificate_mode_is_offered(wechat_cert_mode):
    assert get_provider("wechat").is_available(user=None)


def test_status_lines_name_the_mode_and_never_a_secret(settings, wechat_apiv3_key, wechat_merchant_key):
    with translation.override("en"):
        lines = get_provider("wechat").status_lines()

    assert lines == [f"MCHID {MCHID}", f"AppID {APPID}", f"public-key mode, key id {PUBLIC_KEY_ID}", "H5 pay off"]
    text = "\n".join(lines)
    assert wechat_apiv3_key not in text and "PRIVATE KEY" not in text and "PUBLIC KEY" not in text


def test_status_lines_count_certificates(wechat_cert_mode, settings):
    settings.WECHATPAY_H5_ENABLED = True

    with translation.override("en"):
        lines = get_provider("wechat").status_lines()

    assert lines[2] == f"platform-certificate mode, 1 valid certificates in {settings.WECHATPAY_CERT_DIR}"
    assert lines[3] == "H5 pay on"


# fetch_wechatpay_certificates


def certificate_list(certificates: list[x509.Certificate], wechat_apiv3_key: str) -> dict:
    data = []
    for certificate in certificates:
        data.append(
            {
                "serial_no": serial_hex(certificate.serial_number),
                "effective_time": certificate.not_valid_before_utc.isoformat(),
                "expire_time": certificate.not_valid_after_utc.isoformat(),
                "encrypt_certificate": encrypt(certificate_pem(certificate), wechat_apiv3_key, "certificate"),
            }
        )
    return {"data": data}


def test_fetching_certificates_saves_them(settings, tmp_path, wechat_key, wechat_apiv3_key, wechat_gateway):
    cert_dir = tmp_path / "wechatpay"
    settings.WECHATPAY_PUBLIC_KEY = settings.WECHATPAY_PUBLIC_KEY_ID = ""
    settings.WECHATPAY_CERT_DIR = str(cert_dir)
    certificate = self_signed_certificate(wechat_key.key)
    wechat_gateway.answer(200, certificate_list([certificate], wechat_apiv3_key))
    out = StringIO()

    call_command("fetch_wechatpay_certificates", stdout=out)

    serial = serial_hex(certificate.serial_number)
    assert (cert_dir / f"{serial}.pem").read_text() == certificate_pem(certificate)
    assert serial in out.getvalue() and "(new)" in out.getvalue()
    assert [(call.method, call.path) for call in wechat_gateway.calls] == [("GET", "/v3/certificates")]


def test_fetching_again_adds_a_newly_issued_certificate(
    wechat_cert_mode, settings, wechat_key, wechat_apiv3_key, wechat_gateway
):
    newer = self_signed_certificate(wechat_key.key, days=730)
    wechat_gateway.answer(200, certificate_list([newer], wechat_apiv3_key))
    out = StringIO()

    call_command("fetch_wechatpay_certificates", stdout=out)

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(wechat_cert_mode) and "(new)" not in lines[0]
    assert lines[1].startswith(serial_hex(newer.serial_number)) and lines[1].endswith("(new)")


def test_fetching_in_public_key_mode_does_nothing(wechat_gateway):
    out = StringIO()

    call_command("fetch_wechatpay_certificates", stdout=out)

    assert "Public-key mode" in out.getvalue()
    assert wechat_gateway.calls == []
