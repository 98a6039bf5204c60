"""Alipay: signed cashier URLs and QR codes out, only genuine notifications in, query, close, refunds.

Keys are generated here; notifications and gateway answers are signed with `cryptography`, not the
SDK, so our verification is checked independently. No network: the SDK's `do_post` is faked.
"""

import base64
import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from alipay.aop.api.exception.Exception import RequestException
from alipay.aop.api.util.SignatureUtils import get_sign_content
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from catalog.models import CardCode
from kamen.testing.notifications import assert_rejected_and_unchanged, post_form
from orders import services as order_services
from orders.models import Order
from payments.models import Payment, PaymentNotification, Refund
from payments.providers import get_provider
from payments.providers.alipay import AlipayError, notification_sign_content
from payments.providers.base import GatewayError, RefundResult, TradeStatus, VerifiedRefundNotification

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
        ({"trade_status": "TRADE_CLOSED"}, "trade closed unpaid"),
        ({"refund_fee": "5.00", "seller_id": "2088000000000999"}, "seller_id"),
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


REFUND_NOTIFICATIONS = [
    pytest.param({"refund_fee": "5.00", "gmt_refund": "2026-01-02 10:00:00.000"}, id="partial"),
    pytest.param({"refund_fee": "5.00"}, id="refund-fee-only"),
    pytest.param({"gmt_refund": "2026-01-02 10:00:00.000"}, id="gmt-refund-only"),
    pytest.param({"refund_fee": "20.00", "trade_status": "TRADE_CLOSED"}, id="full"),
    pytest.param({"refund_fee": "", "trade_status": "TRADE_SUCCESS"}, id="blank-refund-fee"),
]


def parse(params: dict[str, str]):
    request = RequestFactory().post(
        NOTIFY_URL, data=urlencode(params), content_type="application/x-www-form-urlencoded"
    )
    return get_provider("alipay").parse_notification(request)


@pytest.mark.parametrize("overrides", REFUND_NOTIFICATIONS)
def test_a_refund_notification_is_verified_as_a_refund(payment, notification, overrides):
    verified = parse(notification(payment, out_biz_no="R2026010200000000000000001", **overrides))

    assert verified == VerifiedRefundNotification(
        trade_no=payment.trade_no,
        refund_no="R2026010200000000000000001",
        succeeded=True,
        gateway_refund_id=f"2026010122001{payment.pk:08d}",
        message=f"refund_fee {overrides.get('refund_fee', '')}",
    )


@pytest.mark.parametrize("overrides", REFUND_NOTIFICATIONS)
def test_a_refund_notification_never_confirms_a_payment(payment, notification, post_notification, overrides):
    response = post_notification(notification(payment, **overrides))

    assert response.content == b"success"
    record = PaymentNotification.objects.get()
    assert record.verified and record.result == PaymentNotification.Result.REFUND
    assert record.payment_id == payment.pk
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert payment.gateway_trade_no == ""
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.PENDING_PAYMENT
    assert not CardCode.objects.filter(status=CardCode.Status.SOLD).exists()


def test_a_refund_notification_with_a_bad_signature_is_rejected(payment, notification, post_notification):
    params = notification(payment, refund_fee="20.00", trade_status="TRADE_CLOSED")
    params["refund_fee"] = "0.01"

    post_notification(params)

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "bad signature"


def test_a_refund_after_payment_changes_nothing_it_does_not_name(payment, notification, post_notification):
    post_notification(notification(payment))

    post_notification(notification(payment, refund_fee="20.00", trade_status="TRADE_CLOSED"))

    record = PaymentNotification.objects.latest("id")
    assert record.verified and record.result == PaymentNotification.Result.REFUND
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 2


def test_a_refund_notification_settles_our_processing_refund(payment, notification, post_notification):
    post_notification(notification(payment))
    refund = Refund.objects.create(
        payment=payment,
        order=payment.order,
        amount=Money("5.00", "CNY"),
        state=Refund.State.PROCESSING,
        decided_at=timezone.now(),
    )

    post_notification(
        notification(payment, refund_fee="5.00", gmt_refund="2026-01-02 10:00:00.000", out_biz_no=refund.refund_no)
    )

    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert refund.gateway_refund_id == f"2026010122001{payment.pk:08d}"
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    assert PaymentNotification.objects.latest("id").result == PaymentNotification.Result.REFUND


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


# The gateway, faked at the SDK's HTTP layer


@pytest.fixture
def fake_gateway(monkeypatch, platform_keys):
    """Answer the SDK's `do_post` like Alipay: `<method>_response` JSON signed with the platform key.

    `answer(response)` answers every method alike; `methods={"alipay.trade.refund": {...}}` answers
    per method; `error` is raised as the SDK raises a network failure.
    """
    calls = []

    def answer(response=None, *, methods=None, signing_key=None, error=None) -> None:
        def do_post(url, query_string=None, headers=None, params=None, charset="utf-8", timeout=15):
            query = dict(parse_qsl(query_string))
            calls.append({"url": url, "query": query, "params": params, "method": query["method"]})
            if error is not None:
                raise error
            body = (methods or {}).get(query["method"], response)
            inner = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            sign = rsa2_sign(inner, signing_key or platform_keys[1])
            key = query["method"].replace(".", "_") + "_response"
            return f'{{"{key}":{inner},"sign":"{sign}"}}'.encode()

        monkeypatch.setattr("alipay.aop.api.DefaultAlipayClient.do_post", do_post)

    answer.calls = calls
    return answer


def biz_content(call) -> dict:
    return json.loads(call["params"]["biz_content"])


def qr_answer(payment, qr_code="https://qr.alipay.com/bax01") -> dict:
    return {"code": "10000", "msg": "Success", "out_trade_no": payment.trade_no, "qr_code": qr_code}


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


def url_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def start(payment, user_agent=PC_UA):
    request = RequestFactory().get("/payments/pay/", HTTP_USER_AGENT=user_agent)
    return get_provider("alipay").start(payment, request=request)


@pytest.mark.parametrize(
    ("user_agent", "method", "product_code"),
    [(PC_UA, "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"), (IPHONE_UA, "alipay.trade.wap.pay", "QUICK_WAP_WAY")],
)
def test_start_shows_a_qr_code_and_a_signed_cashier_url(
    payment, app_keys, settings, fake_gateway, user_agent, method, product_code
):
    fake_gateway(qr_answer(payment))

    action = start(payment, user_agent)

    assert action.kind == "qr"
    assert action.qr_content == "https://qr.alipay.com/bax01"
    assert action.url.startswith(SERVER_URL + "?")
    params = url_params(action.url)
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
    assert app_signature_verifies(action.url, app_keys[2])
    assert not app_signature_verifies(action.url.replace("20.00", "00.01"), app_keys[2])
    # The QR trade and the cashier trade are one trade: same number, amount, subject and deadline.
    (call,) = fake_gateway.calls
    assert call["method"] == "alipay.trade.precreate"
    assert {k: v for k, v in biz.items() if k not in ("product_code", "quit_url")} == biz_content(call)


def test_wap_pay_leads_back_to_our_payment_page(payment, settings, fake_gateway):
    fake_gateway(qr_answer(payment))

    action = start(payment, IPHONE_UA)

    quit_url = json.loads(url_params(action.url)["biz_content"])["quit_url"]
    assert quit_url == settings.SITE_URL + reverse("payments:checkout", args=[payment.trade_no])


def test_start_reuses_the_qr_code_on_the_payment_without_calling_the_gateway(payment, fake_gateway):
    fake_gateway(qr_answer(payment, "https://qr.alipay.com/other"))
    payment.qr_content = "https://qr.alipay.com/bax01"

    action = start(payment)

    assert (action.kind, action.qr_content) == ("qr", "https://qr.alipay.com/bax01")
    assert action.url.startswith(SERVER_URL + "?")
    assert fake_gateway.calls == []


def test_start_leaves_the_payment_for_the_caller_to_save(payment, fake_gateway):
    fake_gateway(qr_answer(payment))

    start(payment)

    assert Payment.objects.get(pk=payment.pk).qr_content == ""


@pytest.mark.parametrize(
    "failure",
    [
        {
            "response": {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.ACCESS_FORBIDDEN",
                "sub_msg": "无权限",
            }
        },
        {"error": RequestException("post connect failed. timed out")},
    ],
    ids=["face-to-face-not-enabled", "gateway-down"],
)
def test_start_falls_back_to_the_cashier_when_there_is_no_qr_code(payment, fake_gateway, caplog, failure):
    fake_gateway(**failure)

    with caplog.at_level(logging.WARNING, logger="payments.providers.alipay"):
        action = start(payment)

    assert action.kind == "redirect"
    assert url_params(action.url)["method"] == "alipay.trade.page.pay"
    assert action.qr_content == ""
    assert payment.trade_no in caplog.text


def test_the_gateway_deadline_never_outlasts_the_payment(payment, fake_gateway):
    expires_at = timezone.now() + timedelta(minutes=14, seconds=50, microseconds=900_000)
    Payment.objects.filter(pk=payment.pk).update(expires_at=expires_at)
    payment.refresh_from_db()
    fake_gateway(qr_answer(payment))

    action = start(payment)

    for biz in (json.loads(url_params(action.url)["biz_content"]), biz_content(fake_gateway.calls[0])):
        assert "timeout_express" not in biz
        deadline = datetime.strptime(biz["time_expire"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        assert expires_at - timedelta(seconds=1) < deadline <= expires_at


@pytest.fixture
def topup(shopper):
    return Payment.objects.create(
        purpose=Payment.Purpose.TOPUP,
        user=shopper,
        provider="alipay",
        amount=Money(Decimal("50.00"), "CNY"),
        state=Payment.State.PENDING,
        expires_at=timezone.now() + timedelta(minutes=15),
    )


def test_a_wallet_top_up_starts_without_an_order(topup, settings, fake_gateway):
    fake_gateway(qr_answer(topup))

    action = start(topup)

    biz = biz_content(fake_gateway.calls[0])
    assert biz["subject"] == "钱包充值"
    assert biz["total_amount"] == "50.00"
    assert biz["out_trade_no"] == topup.trade_no
    assert url_params(action.url)["return_url"] == settings.SITE_URL + reverse("accounts:wallet")


def test_alipay_is_offered_only_when_fully_configured(settings):
    provider = get_provider("alipay")
    assert provider.is_available(user=None)

    settings.ALIPAY_APP_PRIVATE_KEY = ""

    assert not provider.is_available(user=None)


def test_status_lines_name_the_account_but_never_a_key(app_keys, platform_keys):
    lines = get_provider("alipay").status_lines()

    text = "\n".join(lines)
    assert APP_ID in text and SELLER_ID in text
    assert "openapi-sandbox.dl.alipaydev.com (sandbox)" in text
    assert "KEY" not in text and app_keys[1][40:80] not in text and platform_keys[2][40:80] not in text


def test_one_error_type_for_callers():
    assert issubclass(AlipayError, GatewayError)


# 当面付 QR codes


def test_precreate_returns_the_qr_code(payment, fake_gateway):
    fake_gateway(qr_answer(payment))

    assert get_provider("alipay").precreate_qr(payment) == "https://qr.alipay.com/bax01"
    (call,) = fake_gateway.calls
    assert call["url"] == SERVER_URL
    assert call["method"] == "alipay.trade.precreate"
    assert biz_content(call)["out_trade_no"] == payment.trade_no


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


# Query and close (the beat job's questions)


def trade(payment, status: str, **fields) -> dict:
    return {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": payment.trade_no,
        "trade_no": "2026010122001400000001",
        "trade_status": status,
        "total_amount": "20.00",
        "buyer_logon_id": "158****1234",
        **fields,
    }


NOT_EXIST = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("TRADE_SUCCESS", "paid"),
        ("TRADE_FINISHED", "paid"),
        ("WAIT_BUYER_PAY", "waiting"),
        ("TRADE_CLOSED", "closed"),
    ],
)
def test_query_maps_alipays_trade_status(payment, fake_gateway, status, expected):
    fake_gateway(trade(payment, status))

    result = get_provider("alipay").query(payment)

    if expected == "paid":
        assert result == TradeStatus("paid", amount=Decimal("20.00"), gateway_trade_no="2026010122001400000001")
    else:
        assert result == TradeStatus(expected)
    (call,) = fake_gateway.calls
    assert call["method"] == "alipay.trade.query"
    assert biz_content(call) == {"out_trade_no": payment.trade_no}


def test_a_trade_alipay_never_saw_is_still_waiting(payment, fake_gateway):
    fake_gateway(NOT_EXIST)

    assert get_provider("alipay").query(payment) == TradeStatus("waiting")


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"out_trade_no": "P20260101someone-else"}, id="other-trade"),
        pytest.param({"total_amount": "20"}, id="malformed-amount"),
        pytest.param({"trade_status": "TRADE_PENDING"}, id="unknown-status"),
        pytest.param(
            {"code": "40004", "sub_code": "ACQ.INVALID_PARAMETER", "sub_msg": "参数无效"}, id="business-error"
        ),
        pytest.param(
            {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"}, id="system"
        ),
    ],
)
def test_query_raises_when_it_cannot_tell(payment, fake_gateway, answer):
    fake_gateway({**trade(payment, "TRADE_SUCCESS"), **answer})

    with pytest.raises(GatewayError):
        get_provider("alipay").query(payment)


def test_query_refuses_an_answer_not_signed_by_alipay(payment, fake_gateway):
    _, other_private, _ = _key_pair()
    fake_gateway(trade(payment, "TRADE_SUCCESS"), signing_key=other_private)

    with pytest.raises(GatewayError, match="sign verify failed"):
        get_provider("alipay").query(payment)


def test_query_raises_when_the_gateway_is_unreachable(payment, fake_gateway):
    fake_gateway(error=RequestException("post connect failed. timed out"))

    with pytest.raises(GatewayError, match="timed out"):
        get_provider("alipay").query(payment)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"code": "10000", "msg": "Success", "trade_no": "2026010122001400000001"}, id="closed"),
        pytest.param(NOT_EXIST, id="never-opened"),
    ],
)
def test_close_succeeds_or_finds_nothing_to_close(payment, fake_gateway, answer):
    fake_gateway({**answer, "out_trade_no": payment.trade_no})

    assert get_provider("alipay").close(payment) is None
    (call,) = fake_gateway.calls
    assert call["method"] == "alipay.trade.close"
    assert biz_content(call) == {"out_trade_no": payment.trade_no}


@pytest.mark.parametrize(
    "answer",
    [
        {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"},
        {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"},
    ],
    ids=["paid-meanwhile", "system-error"],
)
def test_close_raises_when_the_trade_stays_open(payment, fake_gateway, answer):
    fake_gateway(answer)

    with pytest.raises(GatewayError, match=answer["sub_code"]):
        get_provider("alipay").close(payment)


# Refunds


@pytest.fixture
def refund(payment):
    return Refund(
        payment=payment,
        order=payment.order,
        amount=Money(Decimal("5.50"), "CNY"),
        state=Refund.State.PENDING,
        reason="买家申请退款",
        decided_at=timezone.now(),
    )


def refund_answer(payment, fund_change: str, **fields) -> dict:
    return {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": payment.trade_no,
        "trade_no": "2026010122001400000001",
        "buyer_logon_id": "158****1234",
        "fund_change": fund_change,
        "refund_fee": "5.50",
        "gmt_refund_pay": "2026-01-02 10:00:00",
        **fields,
    }


def refund_record(refund, **fields) -> dict:
    return {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": refund.payment.trade_no,
        "trade_no": "2026010122001400000001",
        "out_request_no": refund.refund_no,
        "total_amount": "20.00",
        "refund_amount": "5.50",
        "refund_status": "REFUND_SUCCESS",
        "gmt_refund_pay": "2026-01-02 10:00:00",
        **fields,
    }


def test_a_refund_that_moves_money_succeeds(refund, fake_gateway):
    fake_gateway(refund_answer(refund.payment, "Y"))

    result = get_provider("alipay").refund(refund)

    assert result == RefundResult("succeeded", gateway_refund_id="2026010122001400000001", message="refund_fee 5.50")
    (call,) = fake_gateway.calls
    assert call["method"] == "alipay.trade.refund"
    assert biz_content(call) == {
        "out_trade_no": refund.payment.trade_no,
        "refund_amount": "5.50",
        "out_request_no": refund.refund_no,
        "refund_reason": "买家申请退款",
    }


def test_a_repeated_refund_answers_n_and_the_refund_query_confirms_it(refund, fake_gateway):
    fake_gateway(
        methods={
            "alipay.trade.refund": refund_answer(refund.payment, "N"),
            "alipay.trade.fastpay.refund.query": refund_record(refund),
        }
    )

    result = get_provider("alipay").refund(refund)

    assert result.state == "succeeded"
    assert result.gateway_refund_id == "2026010122001400000001"
    assert [call["method"] for call in fake_gateway.calls] == [
        "alipay.trade.refund",
        "alipay.trade.fastpay.refund.query",
    ]
    assert biz_content(fake_gateway.calls[1]) == {
        "out_trade_no": refund.payment.trade_no,
        "out_request_no": refund.refund_no,
        "query_options": ["gmt_refund_pay"],
    }


def test_an_n_answer_without_a_refund_on_record_is_still_processing(refund, fake_gateway):
    no_record = {k: v for k, v in refund_record(refund).items() if k not in ("refund_status", "refund_amount")}
    fake_gateway(
        methods={
            "alipay.trade.refund": refund_answer(refund.payment, "N"),
            "alipay.trade.fastpay.refund.query": no_record,
        }
    )

    assert get_provider("alipay").refund(refund).state == "processing"


@pytest.mark.parametrize(
    "sub_code", ["ACQ.TRADE_HAS_CLOSE", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "ACQ.SELLER_BALANCE_NOT_ENOUGH"]
)
def test_a_refund_alipay_refuses_fails_with_its_reason(refund, fake_gateway, sub_code):
    fake_gateway({"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": "原因"})

    result = get_provider("alipay").refund(refund)

    assert result == RefundResult("failed", message=f"{sub_code} 原因")


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(
            {"response": {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"}},
            id="system-error",
        ),
        pytest.param(
            {"response": {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR"}},
            id="acq-system-error",
        ),
        pytest.param({"response": {"code": "99999", "msg": "?"}}, id="unknown-code"),
        pytest.param({"error": RequestException("post request failed. timed out")}, id="network"),
    ],
)
def test_a_refund_with_an_unknown_outcome_raises_for_a_retry(refund, fake_gateway, failure):
    fake_gateway(**failure)

    with pytest.raises(GatewayError):
        get_provider("alipay").refund(refund)


def test_a_refund_answer_about_another_trade_is_not_believed(refund, fake_gateway):
    fake_gateway(refund_answer(refund.payment, "Y", out_trade_no="P20260101someone-else"))

    with pytest.raises(GatewayError):
        get_provider("alipay").refund(refund)


def test_the_refund_query_finds_a_finished_refund(refund, fake_gateway):
    fake_gateway(refund_record(refund))

    result = get_provider("alipay").query_refund(refund)

    assert result == RefundResult(
        "succeeded",
        gateway_refund_id="2026010122001400000001",
        message="refund_amount 5.50 at 2026-01-02 10:00:00",
    )


@pytest.mark.parametrize(("sent_minutes_ago", "expected"), [(1, "processing"), (45, "failed")])
def test_a_refund_alipay_has_no_record_of_fails_after_a_grace_period(refund, fake_gateway, sent_minutes_ago, expected):
    refund.decided_at = timezone.now() - timedelta(minutes=sent_minutes_ago)
    fake_gateway(
        {"code": "10000", "msg": "Success", "out_trade_no": refund.payment.trade_no, "out_request_no": refund.refund_no}
    )

    result = get_provider("alipay").query_refund(refund)

    assert result.state == expected
    assert result.message


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"code": "40004", "sub_code": "ACQ.TRADE_NOT_EXIST"}, id="error"),
        pytest.param({"out_request_no": "R20260101another"}, id="other-refund"),
    ],
)
def test_the_refund_query_raises_when_it_cannot_tell(refund, fake_gateway, answer):
    fake_gateway({**refund_record(refund), **answer})

    with pytest.raises(GatewayError):
        get_provider("alipay").query_refund(refund)
