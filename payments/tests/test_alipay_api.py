"""Alipay API calls: signed cashier URLs and QR codes out; query, close and refunds.

No network: the SDK's `do_post` is faked by the `alipay_gateway` fixture (kamen/testing/fake_alipay.py).
"""

import base64
import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from alipay.aop.api.exception.Exception import RequestException
from alipay.aop.api.util.SignatureUtils import get_sign_content
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from kamen.testing import factories
from kamen.testing.browser import IPHONE_UA, PC_UA
from kamen.testing.factories import order_of
from kamen.testing.fake_alipay import (
    APP_ID,
    NOTIFY_URL,
    SELLER_ID,
    SERVER_URL,
    biz_content,
    key_pair,
    qr_answer,
    refund_answer,
)
from kamen.testing.fake_alipay import trade_answer as trade
from payments.models import Payment, Refund
from payments.providers import get_provider
from payments.providers.alipay import AlipayError
from payments.providers.base import GatewayError, RefundResult, TradeStatus
from payments.purposes import TOPUP

pytestmark = pytest.mark.usefixtures("alipay_enabled")


@pytest.fixture
def payment(sku):
    return factories.place_order(sku, "alipay").payment


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
    payment, alipay_app_keys, settings, alipay_gateway, user_agent, method, product_code
):
    alipay_gateway(qr_answer(payment))

    action = start(payment, user_agent)

    assert action.kind == "qr"
    assert action.qr_content == "https://qr.alipay.com/bax01"
    assert action.url.startswith(SERVER_URL + "?")
    params = url_params(action.url)
    assert params["method"] == method
    assert params["app_id"] == APP_ID
    assert params["sign_type"] == "RSA2"
    assert params["notify_url"] == settings.SITE_URL + NOTIFY_URL
    assert params["return_url"] == settings.SITE_URL + order_of(payment).get_absolute_url()
    biz = json.loads(params["biz_content"])
    assert biz["out_trade_no"] == payment.trade_no
    assert biz["total_amount"] == "20.00"
    assert biz["product_code"] == product_code
    assert biz["subject"] and len(biz["subject"]) <= 128
    assert app_signature_verifies(action.url, alipay_app_keys[2])
    assert not app_signature_verifies(action.url.replace("20.00", "00.01"), alipay_app_keys[2])
    # The QR trade and the cashier trade are one trade: same number, amount, subject and deadline.
    (call,) = alipay_gateway.calls
    assert call["method"] == "alipay.trade.precreate"
    assert {k: v for k, v in biz.items() if k not in ("product_code", "quit_url")} == biz_content(call)


def test_wap_pay_leads_back_to_our_payment_page(payment, settings, alipay_gateway):
    alipay_gateway(qr_answer(payment))

    action = start(payment, IPHONE_UA)

    quit_url = json.loads(url_params(action.url)["biz_content"])["quit_url"]
    assert quit_url == settings.SITE_URL + reverse("payments:checkout", args=[payment.trade_no])


def test_start_reuses_the_qr_code_on_the_payment_without_calling_the_gateway(payment, alipay_gateway):
    alipay_gateway(qr_answer(payment, "https://qr.alipay.com/other"))
    payment.qr_content = "https://qr.alipay.com/bax01"

    action = start(payment)

    assert (action.kind, action.qr_content) == ("qr", "https://qr.alipay.com/bax01")
    assert action.url.startswith(SERVER_URL + "?")
    assert alipay_gateway.calls == []


def test_start_leaves_the_payment_for_the_caller_to_save(payment, alipay_gateway):
    alipay_gateway(qr_answer(payment))

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
def test_start_falls_back_to_the_cashier_when_there_is_no_qr_code(payment, alipay_gateway, caplog, failure):
    alipay_gateway(**failure)

    with caplog.at_level(logging.WARNING, logger="payments.providers.alipay"):
        action = start(payment)

    assert action.kind == "redirect"
    assert url_params(action.url)["method"] == "alipay.trade.page.pay"
    assert action.qr_content == ""
    assert payment.trade_no in caplog.text


def test_the_gateway_deadline_never_outlasts_the_payment(payment, alipay_gateway):
    expires_at = timezone.now() + timedelta(minutes=14, seconds=50, microseconds=900_000)
    Payment.objects.filter(pk=payment.pk).update(expires_at=expires_at)
    payment.refresh_from_db()
    alipay_gateway(qr_answer(payment))

    action = start(payment)

    for biz in (json.loads(url_params(action.url)["biz_content"]), biz_content(alipay_gateway.calls[0])):
        assert "timeout_express" not in biz
        deadline = datetime.strptime(biz["time_expire"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        assert expires_at - timedelta(seconds=1) < deadline <= expires_at


@pytest.fixture
def topup(shopper):
    return Payment.objects.create(
        purpose=TOPUP,
        user=shopper,
        description="钱包充值",
        provider="alipay",
        amount=Money(Decimal("50.00"), "CNY"),
        state=Payment.State.PENDING,
        expires_at=timezone.now() + timedelta(minutes=15),
    )


def test_a_wallet_top_up_starts_without_an_order(topup, settings, alipay_gateway):
    alipay_gateway(qr_answer(topup))

    action = start(topup)

    biz = biz_content(alipay_gateway.calls[0])
    assert biz["subject"] == "钱包充值"
    assert biz["total_amount"] == "50.00"
    assert biz["out_trade_no"] == topup.trade_no
    assert url_params(action.url)["return_url"] == settings.SITE_URL + reverse("payments:wallet")


def test_alipay_is_offered_only_when_fully_configured(settings):
    provider = get_provider("alipay")
    assert provider.is_available(user=None)

    settings.ALIPAY_APP_PRIVATE_KEY = ""

    assert not provider.is_available(user=None)


def test_status_lines_name_the_account_but_never_a_key(alipay_app_keys, alipay_platform_keys):
    lines = get_provider("alipay").status_lines()

    text = "\n".join(lines)
    assert APP_ID in text and SELLER_ID in text
    assert "openapi-sandbox.dl.alipaydev.com (sandbox)" in text
    assert "KEY" not in text and alipay_app_keys[1][40:80] not in text and alipay_platform_keys[2][40:80] not in text


def test_one_error_type_for_callers():
    assert issubclass(AlipayError, GatewayError)


# 当面付 QR codes


def test_precreate_returns_the_qr_code(payment, alipay_gateway):
    alipay_gateway(qr_answer(payment))

    assert get_provider("alipay").precreate_qr(payment) == "https://qr.alipay.com/bax01"
    (call,) = alipay_gateway.calls
    assert call["url"] == SERVER_URL
    assert call["method"] == "alipay.trade.precreate"
    assert biz_content(call)["out_trade_no"] == payment.trade_no


def test_precreate_raises_on_an_error_code(payment, alipay_gateway):
    alipay_gateway(
        {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_HAS_SUCCESS", "sub_msg": "交易已被支付"}
    )

    with pytest.raises(AlipayError, match="40004"):
        get_provider("alipay").precreate_qr(payment)


def test_precreate_refuses_a_response_not_signed_by_alipay(payment, alipay_gateway):
    _, other_private, _ = key_pair()
    alipay_gateway({"code": "10000", "msg": "Success", "qr_code": "https://evil.example/qr"}, signing_key=other_private)

    with pytest.raises(AlipayError, match="sign verify failed"):
        get_provider("alipay").precreate_qr(payment)


# Query and close (the beat job's questions)


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
def test_query_maps_alipays_trade_status(payment, alipay_gateway, status, expected):
    alipay_gateway(trade(payment, status))

    result = get_provider("alipay").query(payment)

    if expected == "paid":
        assert result == TradeStatus("paid", amount=Decimal("20.00"), gateway_trade_no="2026010122001400000001")
    else:
        assert result == TradeStatus(expected)
    (call,) = alipay_gateway.calls
    assert call["method"] == "alipay.trade.query"
    assert biz_content(call) == {"out_trade_no": payment.trade_no}


def test_a_trade_alipay_never_saw_is_still_waiting(payment, alipay_gateway):
    alipay_gateway(NOT_EXIST)

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
def test_query_raises_when_it_cannot_tell(payment, alipay_gateway, answer):
    alipay_gateway({**trade(payment, "TRADE_SUCCESS"), **answer})

    with pytest.raises(GatewayError):
        get_provider("alipay").query(payment)


def test_query_refuses_an_answer_not_signed_by_alipay(payment, alipay_gateway):
    _, other_private, _ = key_pair()
    alipay_gateway(trade(payment, "TRADE_SUCCESS"), signing_key=other_private)

    with pytest.raises(GatewayError, match="sign verify failed"):
        get_provider("alipay").query(payment)


def test_query_raises_when_the_gateway_is_unreachable(payment, alipay_gateway):
    alipay_gateway(error=RequestException("post connect failed. timed out"))

    with pytest.raises(GatewayError, match="timed out"):
        get_provider("alipay").query(payment)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"code": "10000", "msg": "Success", "trade_no": "2026010122001400000001"}, id="closed"),
        pytest.param(NOT_EXIST, id="never-opened"),
    ],
)
def test_close_succeeds_or_finds_nothing_to_close(payment, alipay_gateway, answer):
    alipay_gateway({**answer, "out_trade_no": payment.trade_no})

    assert get_provider("alipay").close(payment) is None
    (call,) = alipay_gateway.calls
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
def test_close_raises_when_the_trade_stays_open(payment, alipay_gateway, answer):
    alipay_gateway(answer)

    with pytest.raises(GatewayError, match=answer["sub_code"]):
        get_provider("alipay").close(payment)


# Refunds


@pytest.fixture
def refund(payment):
    return Refund(
        payment=payment,
        amount=Money(Decimal("5.50"), "CNY"),
        state=Refund.State.PENDING,
        reason="买家申请退款",
        decided_at=timezone.now(),
    )


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


def test_a_refund_that_moves_money_succeeds(refund, alipay_gateway):
    alipay_gateway(refund_answer(refund.payment, "Y"))

    result = get_provider("alipay").refund(refund)

    assert result == RefundResult("succeeded", gateway_refund_id="2026010122001400000001", message="refund_fee 5.50")
    (call,) = alipay_gateway.calls
    assert call["method"] == "alipay.trade.refund"
    assert biz_content(call) == {
        "out_trade_no": refund.payment.trade_no,
        "refund_amount": "5.50",
        "out_request_no": refund.refund_no,
        "refund_reason": "买家申请退款",
    }


def test_a_repeated_refund_answers_n_and_the_refund_query_confirms_it(refund, alipay_gateway):
    alipay_gateway(
        methods={
            "alipay.trade.refund": refund_answer(refund.payment, "N"),
            "alipay.trade.fastpay.refund.query": refund_record(refund),
        }
    )

    result = get_provider("alipay").refund(refund)

    assert result.state == "succeeded"
    assert result.gateway_refund_id == "2026010122001400000001"
    assert [call["method"] for call in alipay_gateway.calls] == [
        "alipay.trade.refund",
        "alipay.trade.fastpay.refund.query",
    ]
    assert biz_content(alipay_gateway.calls[1]) == {
        "out_trade_no": refund.payment.trade_no,
        "out_request_no": refund.refund_no,
        "query_options": ["gmt_refund_pay"],
    }


def test_an_n_answer_without_a_refund_on_record_is_still_processing(refund, alipay_gateway):
    no_record = {k: v for k, v in refund_record(refund).items() if k not in ("refund_status", "refund_amount")}
    alipay_gateway(
        methods={
            "alipay.trade.refund": refund_answer(refund.payment, "N"),
            "alipay.trade.fastpay.refund.query": no_record,
        }
    )

    assert get_provider("alipay").refund(refund).state == "processing"


@pytest.mark.parametrize(
    "sub_code", ["ACQ.TRADE_HAS_CLOSE", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "ACQ.SELLER_BALANCE_NOT_ENOUGH"]
)
def test_a_refund_alipay_refuses_fails_with_its_reason(refund, alipay_gateway, sub_code):
    alipay_gateway({"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": "原因"})

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
def test_a_refund_with_an_unknown_outcome_raises_for_a_retry(refund, alipay_gateway, failure):
    alipay_gateway(**failure)

    with pytest.raises(GatewayError):
        get_provider("alipay").refund(refund)


def test_a_refund_answer_about_another_trade_is_not_believed(refund, alipay_gateway):
    alipay_gateway(refund_answer(refund.payment, "Y", out_trade_no="P20260101someone-else"))

    with pytest.raises(GatewayError):
        get_provider("alipay").refund(refund)


def test_the_refund_query_finds_a_finished_refund(refund, alipay_gateway):
    alipay_gateway(refund_record(refund))

    result = get_provider("alipay").query_refund(refund)

    assert result == RefundResult(
        "succeeded",
        gateway_refund_id="2026010122001400000001",
        message="refund_amount 5.50 at 2026-01-02 10:00:00",
    )


@pytest.mark.parametrize(("sent_minutes_ago", "expected"), [(1, "processing"), (45, "failed")])
def test_a_refund_alipay_has_no_record_of_fails_after_a_grace_period(
    refund, alipay_gateway, sent_minutes_ago, expected
):
    refund.decided_at = timezone.now() - timedelta(minutes=sent_minutes_ago)
    alipay_gateway(
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
def test_the_refund_query_raises_when_it_cannot_tell(refund, alipay_gateway, answer):
    alipay_gateway({**refund_record(refund), **answer})

    with pytest.raises(GatewayError):
        get_provider("alipay").query_refund(refund)
