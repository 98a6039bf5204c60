"""Alipay: signed redirects and QR codes out, and only genuine paid notifications in.

Keys are generated here; notifications are signed with `cryptography`, not the SDK, so our
verification is checked independently. No network: the SDK's `do_post` is faked.
"""

import base64
import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from alipay.aop.api.util.SignatureUtils import get_sign_content
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import RequestFactory
from django.utils import timezone

from catalog.models import CardCode
from kamen.testing.notifications import assert_rejected_and_unchanged, post_form
from orders import services as order_services
from orders.models import Order
from payments.models import Payment, PaymentNotification
from payments.providers import get_provider
from payments.providers.alipay import AlipayError, notification_sign_content

NOTIFY_URL = "/payments/alipay/notify/"
APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"
SERVER_URL = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
PC_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def _key_pair() -> tuple[rsa.RSAPrivateKey, str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return key, private_pem, public_pem


@pytest.fixture(scope="module")
def app_keys():
    return _key_pair()


@pytest.fixture(scope="module")
def platform_keys():
    return _key_pair()


def rsa2_sign(content: str, private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def alipay_sign(params: dict[str, str], private_pem: str) -> dict[str, str]:
    """Sign like Alipay's notify: all but sign/sign_type, empty values dropped, sorted, k=v joined by &."""
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("sign", "sign_type") and v != "")
    return {**params, "sign_type": "RSA2", "sign": rsa2_sign(content, private_pem)}


@pytest.fixture(autouse=True)
def alipay_settings(settings, app_keys, platform_keys):
    settings.ALIPAY_ENABLED = True
    settings.ALIPAY_APP_ID = APP_ID
    settings.ALIPAY_SELLER_ID = SELLER_ID
    settings.ALIPAY_APP_PRIVATE_KEY = app_keys[1]
    settings.ALIPAY_PUBLIC_KEY = platform_keys[2]
    settings.ALIPAY_SERVER_URL = SERVER_URL
    settings.PAYMENT_PROVIDERS = [*settings.PAYMENT_PROVIDERS, "payments.providers.alipay.AlipayProvider"]
    return settings


def place(sku, email="a@example.com") -> Payment:
    return order_services.place_order(
        sku, quantity=2, user=None, contact_email=email, lookup_password="abcd", payment_method="alipay"
    )


@pytest.fixture
def payment(sku):
    return place(sku)


@pytest.fixture
def notification(platform_keys):
    """A genuine TRADE_SUCCESS notification for a payment, signed by the "Alipay" key."""

    def build(payment, **overrides) -> dict[str, str]:
        params = {
            "gmt_create": "2026-01-01 12:00:00",
            "charset": "utf-8",
            "gmt_payment": "2026-01-01 12:00:05",
            "notify_time": "2026-01-01 12:00:06",
            "subject": "测试商品 月卡",
            "buyer_id": "2088102177846880",
            "invoice_amount": "20.00",
            "version": "1.0",
            "notify_id": "2026010100222120006000000001",
            "fund_bill_list": '[{"amount":"20.00","fundChannel":"ALIPAYACCOUNT"}]',
            "notify_type": "trade_status_sync",
            "out_trade_no": payment.trade_no,
            "total_amount": f"{payment.amount.amount:.2f}",
            "trade_status": "TRADE_SUCCESS",
            "trade_no": f"2026010122001{payment.pk:08d}",
            "auth_app_id": APP_ID,
            "receipt_amount": "20.00",
            "point_amount": "0.00",
            "buyer_pay_amount": "20.00",
            "app_id": APP_ID,
            "seller_id": SELLER_ID,
            **overrides,
        }
        return alipay_sign(params, platform_keys[1])

    return build


@pytest.fixture
def post_notification(client, django_capture_on_commit_callbacks):
    def post(body: str | dict):
        with django_capture_on_commit_callbacks(execute=True):
            return post_form(client, NOTIFY_URL, body)

    return post


def rejection_message() -> str:
    return PaymentNotification.objects.latest("id").message


# Notifications


def test_a_genuine_notification_confirms_and_delivers(payment, notification, post_notification):
    response = post_notification(notification(payment))

    assert response.status_code == 200
    assert response.content == b"success"
    assert response["Content-Type"].startswith("text/plain")
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.DELIVERED
    record = PaymentNotification.objects.get()
    assert record.verified and record.result == PaymentNotification.Result.CONFIRMED
    assert record.payment_id == payment.pk
    payment.refresh_from_db()
    assert payment.gateway_trade_no == f"2026010122001{payment.pk:08d}"


def test_a_resent_notification_changes_nothing_twice(payment, notification, post_notification):
    params = notification(payment)
    post_notification(params)

    response = post_notification(params)

    assert response.content == b"success"
    assert list(PaymentNotification.objects.order_by("id").values_list("result", flat=True)) == [
        "confirmed",
        "duplicate",
    ]
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 2


def test_a_tampered_amount_is_rejected(payment, notification, post_notification):
    params = notification(payment)
    params["total_amount"] = "0.01"

    response = post_notification(params)

    assert response.status_code == 400
    assert response.content == b"fail"
    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "bad signature"


def test_a_correctly_signed_wrong_amount_is_rejected(payment, notification, post_notification):
    post_notification(notification(payment, total_amount="19.99"))

    assert_rejected_and_unchanged(payment)
    assert "amount" in rejection_message()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"app_id": "2021000000000999"}, "app_id"),
        ({"seller_id": "2088000000000999"}, "seller_id"),
        ({"trade_status": "WAIT_BUYER_PAY"}, "not a payment"),
        ({"trade_status": "TRADE_CLOSED"}, "refund notification"),
        ({"refund_fee": "5.00", "gmt_refund": "2026-01-02 10:00:00.000"}, "refund notification"),
        ({"refund_fee": "5.00"}, "refund notification"),
        ({"total_amount": "20"}, "malformed amount"),
        ({"total_amount": " 20.00"}, "malformed amount"),
    ],
)
def test_validly_signed_but_unacceptable_notifications_change_nothing(
    payment, notification, post_notification, overrides, reason
):
    post_notification(notification(payment, **overrides))

    assert_rejected_and_unchanged(payment)
    assert reason in rejection_message()


def test_a_refund_after_payment_changes_nothing(payment, notification, post_notification):
    post_notification(notification(payment))

    post_notification(notification(payment, refund_fee="20.00", trade_status="TRADE_CLOSED"))

    assert rejection_message() == "refund notification"
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 2


def test_a_notification_replayed_onto_another_order_is_rejected(sku, payment, notification, post_notification):
    other = place(sku, email="b@example.com")
    params = notification(payment)
    params["out_trade_no"] = other.trade_no  # same amount, other order: the signature no longer matches

    post_notification(params)

    assert_rejected_and_unchanged(other)
    assert rejection_message() == "bad signature"
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


def test_a_genuine_notification_for_one_order_pays_only_that_order(sku, payment, notification, post_notification):
    other = place(sku, email="b@example.com")

    post_notification(notification(payment))  # the shopper of `other` hoped this would pay theirs

    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    other.refresh_from_db()
    assert other.state == Payment.State.PENDING
    assert Order.objects.get(pk=other.order_id).status == Order.Status.PENDING_PAYMENT


def test_duplicate_parameters_are_rejected(payment, notification, post_notification):
    post_notification(urlencode(notification(payment)) + "&total_amount=0.01")

    assert_rejected_and_unchanged(payment)


def test_an_array_amount_is_rejected(payment, notification, post_notification):
    params = notification(payment)
    body = urlencode({k: v for k, v in params.items() if k != "total_amount"}) + "&total_amount[]=20.00"

    post_notification(body)

    assert_rejected_and_unchanged(payment)


@pytest.mark.parametrize("sign", [None, ""])
def test_missing_or_empty_signature_is_rejected(payment, notification, post_notification, sign):
    params = notification(payment)
    del params["sign"]
    if sign is not None:
        params["sign"] = sign

    post_notification(params)

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "missing signature"


def test_sign_type_rsa_is_rejected(payment, notification, post_notification):
    post_notification({**notification(payment), "sign_type": "RSA"})

    assert_rejected_and_unchanged(payment)
    assert "RSA2" in rejection_message()


def test_a_signature_made_with_another_key_is_rejected(payment, notification, post_notification):
    _, other_private, _ = _key_pair()
    params = alipay_sign({k: v for k, v in notification(payment).items() if k != "sign"}, other_private)

    post_notification(params)

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "bad signature"


def test_garbage_in_the_signature_is_rejected(payment, notification, post_notification):
    post_notification({**notification(payment), "sign": "not base64 at all!"})

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "bad signature"


@pytest.mark.parametrize("name", ["ALIPAY_PUBLIC_KEY", "ALIPAY_APP_ID", "ALIPAY_SELLER_ID"])
def test_an_empty_configured_key_or_id_never_verifies(payment, notification, post_notification, settings, name):
    params = notification(payment)
    setattr(settings, name, "")

    post_notification(params)

    assert_rejected_and_unchanged(payment)
    assert "not configured" in rejection_message()


def test_the_sign_content_drops_sign_fields_and_empty_values():
    params = {"b": "2", "a": "1", "empty": "", "sign": "x", "sign_type": "RSA2"}

    assert notification_sign_content(params) == "a=1&b=2"


# Starting a payment


def app_signature_verifies(url: str, public_pem: str) -> bool:
    # The SDK signs every request parameter except `sign` (sign_type included, unlike notifications).
    params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    sign = base64.b64decode(params.pop("sign"))
    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        key.verify(sign, get_sign_content(params).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@pytest.mark.parametrize(
    ("user_agent", "method", "product_code"),
    [(PC_UA, "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"), (IPHONE_UA, "alipay.trade.wap.pay", "QUICK_WAP_WAY")],
)
def test_start_redirects_to_a_signed_gateway_url(payment, app_keys, settings, user_agent, method, product_code):
    request = RequestFactory().get("/checkout/", HTTP_USER_AGENT=user_agent)

    action = get_provider("alipay").start(payment, request=request)

    assert action.kind == "redirect"
    assert action.url.startswith(SERVER_URL + "?")
    params = dict(parse_qsl(urlsplit(action.url).query))
    assert params["method"] == method
    assert params["app_id"] == APP_ID
    assert params["sign_type"] == "RSA2"
    assert params["notify_url"] == settings.SITE_URL + NOTIFY_URL
    assert params["return_url"] == settings.SITE_URL + payment.order.get_absolute_url()
    biz = json.loads(params["biz_content"])
    assert biz["out_trade_no"] == payment.trade_no
    assert biz["total_amount"] == "20.00"
    assert biz["product_code"] == product_code
    assert biz["subject"] and len(biz["subject"]) <= 128
    assert biz["timeout_express"].endswith("m") and int(biz["timeout_express"][:-1]) >= 1
    assert app_signature_verifies(action.url, app_keys[2])
    assert not app_signature_verifies(action.url.replace("20.00", "00.01"), app_keys[2])


def test_the_gateway_window_never_outlasts_the_reservation(payment):
    Order.objects.filter(pk=payment.order_id).update(expires_at=timezone.now() + timedelta(minutes=14, seconds=50))
    payment.refresh_from_db()
    request = RequestFactory().get("/checkout/", HTTP_USER_AGENT=PC_UA)

    url = get_provider("alipay").start(payment, request=request).url

    assert json.loads(dict(parse_qsl(urlsplit(url).query))["biz_content"])["timeout_express"] == "14m"


def test_alipay_is_offered_only_when_fully_configured(settings):
    provider = get_provider("alipay")
    assert provider.is_available(user=None)

    settings.ALIPAY_APP_PRIVATE_KEY = ""

    assert not provider.is_available(user=None)


# 当面付 QR codes, with the SDK's HTTP layer faked


@pytest.fixture
def fake_gateway(monkeypatch, platform_keys):
    """Answer the SDK's `do_post` like Alipay: the `*_response` JSON signed with the platform key."""
    calls = []

    def answer(response: dict, *, signing_key: str | None = None) -> None:
        def do_post(url, query_string=None, headers=None, params=None, charset="utf-8", timeout=15):
            calls.append({"url": url, "query": dict(parse_qsl(query_string)), "params": params})
            inner = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
            sign = rsa2_sign(inner, signing_key or platform_keys[1])
            return f'{{"alipay_trade_precreate_response":{inner},"sign":"{sign}"}}'.encode()

        monkeypatch.setattr("alipay.aop.api.DefaultAlipayClient.do_post", do_post)

    answer.calls = calls
    return answer


def test_precreate_returns_the_qr_code(payment, fake_gateway):
    fake_gateway(
        {"code": "10000", "msg": "Success", "out_trade_no": payment.trade_no, "qr_code": "https://qr.alipay.com/bax01"}
    )

    assert get_provider("alipay").precreate_qr(payment) == "https://qr.alipay.com/bax01"
    (call,) = fake_gateway.calls
    assert call["url"] == SERVER_URL
    assert call["query"]["method"] == "alipay.trade.precreate"
    assert json.loads(call["params"]["biz_content"])["out_trade_no"] == payment.trade_no


def test_precreate_raises_on_an_error_code(payment, fake_gateway):
    fake_gateway(
        {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_HAS_SUCCESS", "sub_msg": "交易已被支付"}
    )

    with pytest.raises(AlipayError, match="40004"):
        get_provider("alipay").precreate_qr(payment)


def test_precreate_refuses_a_response_not_signed_by_alipay(payment, fake_gateway):
    _, other_private, _ = _key_pair()
    fake_gateway({"code": "10000", "msg": "Success", "qr_code": "https://evil.example/qr"}, signing_key=other_private)

    with pytest.raises(AlipayError, match="sign verify failed"):
        get_provider("alipay").precreate_qr(payment)
