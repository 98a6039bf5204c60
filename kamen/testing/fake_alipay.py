"""Alipay faked at the SDK's HTTP layer, with keys the test generates: a pytest plugin (see conftest.py).

Notifications and gateway answers are signed with `cryptography`, not the SDK, so our verification is
checked independently. Nothing here is autouse: a test module asks for `alipay_enabled` (settings)
and `alipay_gateway` (the fake `do_post`) itself.
"""

import base64
import json
from datetime import datetime
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
from alipay.aop.api.exception.Exception import RequestException
from alipay.aop.api.util.SignatureUtils import get_sign_content
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kamen.testing.notifications import post_form

NOTIFY_URL = "/payments/alipay/notify/"
APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"
SERVER_URL = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
PROVIDER_PATH = "payments.providers.alipay.AlipayProvider"
QR_CODE = "https://qr.alipay.com/bax01"
GATEWAY_TRADE_NO = "2026010122001400000001"
TRANSFER = "alipay.fund.trans.uni.transfer"
TRANSFER_QUERY = "alipay.fund.trans.common.query"
TRANSFER_ORDER_ID = "20260102110070000006040050105202"


def key_pair() -> tuple[rsa.RSAPrivateKey, str, str]:
    """A fresh RSA key: (key, PKCS#1 private PEM as Alipay's tools issue it, public PEM)."""
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


def rsa2_sign(content: str, private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def alipay_sign(params: dict[str, str], private_pem: str) -> dict[str, str]:
    """Sign like Alipay's notify: all but sign/sign_type, empty values dropped, sorted, k=v joined by &."""
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("sign", "sign_type") and v != "")
    return {**params, "sign_type": "RSA2", "sign": rsa2_sign(content, private_pem)}


def notification_params(payment, private_pem: str, **overrides) -> dict[str, str]:
    """A genuine TRADE_SUCCESS notification for `payment`, signed with `private_pem` (Alipay's key)."""
    now = f"{datetime.now(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M:%S}"  # Alipay stamps Beijing time
    params = {
        "gmt_create": now,
        "charset": "utf-8",
        "gmt_payment": now,
        "notify_time": now,
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
    return alipay_sign(params, private_pem)


# Gateway answers, as the `<method>_response` object of Alipay's JSON


def biz_content(call) -> dict:
    return json.loads(call["params"]["biz_content"])


def qr_answer(payment, qr_code=QR_CODE) -> dict:
    return {"code": "10000", "msg": "Success", "out_trade_no": payment.trade_no, "qr_code": qr_code}


def trade_answer(payment, status: str, **fields) -> dict:
    """alipay.trade.query's answer for `payment` in `status` (TRADE_SUCCESS, WAIT_BUYER_PAY, ...)."""
    return {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": payment.trade_no,
        "trade_no": GATEWAY_TRADE_NO,
        "trade_status": status,
        "total_amount": f"{payment.amount.amount:.2f}",
        "buyer_logon_id": "158****1234",
        **fields,
    }


def refund_answer(payment, fund_change: str, **fields) -> dict:
    """alipay.trade.refund's answer: fund_change "Y" means money moved by this request."""
    return {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": payment.trade_no,
        "trade_no": GATEWAY_TRADE_NO,
        "buyer_logon_id": "158****1234",
        "fund_change": fund_change,
        "refund_fee": "5.50",
        "gmt_refund_pay": "2026-01-02 10:00:00",
        **fields,
    }


def close_answer(payment) -> dict:
    return {"code": "10000", "msg": "Success", "trade_no": GATEWAY_TRADE_NO, "out_trade_no": payment.trade_no}


# Payouts (单笔转账到支付宝账户) and the answers every API may give


def transfer_answer(out_biz_no: str, status: str = "SUCCESS", **fields) -> dict:
    """alipay.fund.trans.uni.transfer's answer about `out_biz_no` in `status` (SUCCESS, DEALING, FAIL)."""
    return {
        "code": "10000",
        "msg": "Success",
        "out_biz_no": out_biz_no,
        "order_id": TRANSFER_ORDER_ID,
        "pay_fund_order_id": "20260102110070001506040049801906",
        "status": status,
        "trans_date": "2026-01-02 10:00:00",
        **fields,
    }


def transfer_query_answer(out_biz_no: str, status: str = "SUCCESS", **fields) -> dict:
    """alipay.fund.trans.common.query's answer about `out_biz_no` in `status` (SUCCESS, DEALING, FAIL, ...)."""
    answer = {"code": "10000", "msg": "Success", "out_biz_no": out_biz_no, "order_id": TRANSFER_ORDER_ID}
    if status == "SUCCESS":
        answer |= {"pay_fund_order_id": "20260102110070001506040049801906", "pay_date": "2026-01-02 10:00:00"}
    return {**answer, "status": status, **fields}


def refusal(sub_code: str, sub_msg: str = "") -> dict:
    """A business refusal (code 40004) with Alipay's sub_code: PAYEE_NOT_EXIST, ORDER_NOT_EXIST, SYSTEM_ERROR, ..."""
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg or sub_code}


def system_error() -> dict:
    """Code 20000: Alipay could not say what happened."""
    return {
        "code": "20000",
        "msg": "Service Currently Unavailable",
        "sub_code": "isp.unknow-error",
        "sub_msg": "系统繁忙",
    }


def read_timeout() -> TimeoutError:
    """What the SDK's do_post raises when Alipay's answer does not come in time: http.client's socket
    timeout, which the SDK does not wrap (the request may well have arrived)."""
    return TimeoutError("timed out")


def connect_failure() -> RequestException:
    """What the SDK's do_post raises when it cannot connect (the request never left)."""
    return RequestException("post connect failed. timed out")


def request_signature_valid(call: dict, app_public_pem: str) -> bool:
    """Whether a recorded call is signed with our app key over everything sent (query string and body)."""
    params = {**call["query"], **(call["params"] or {})}
    signature = base64.b64decode(params.pop("sign"))
    key = serialization.load_pem_public_key(app_public_pem.encode())
    try:
        key.verify(signature, get_sign_content(params).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


# Fixtures


@pytest.fixture(scope="session")
def alipay_app_keys():
    """Our app key pair (Alipay would hold the public half)."""
    return key_pair()


@pytest.fixture(scope="session")
def alipay_platform_keys():
    """Alipay's own key pair: signs notifications and answers."""
    return key_pair()


@pytest.fixture
def alipay_enabled(settings, alipay_app_keys, alipay_platform_keys):
    """Alipay fully configured against the sandbox gateway URL and offered beside the other providers."""
    settings.ALIPAY_ENABLED = True
    settings.ALIPAY_APP_ID = APP_ID
    settings.ALIPAY_SELLER_ID = SELLER_ID
    settings.ALIPAY_APP_PRIVATE_KEY = alipay_app_keys[1]
    settings.ALIPAY_PUBLIC_KEY = alipay_platform_keys[2]
    settings.ALIPAY_SERVER_URL = SERVER_URL
    if PROVIDER_PATH not in settings.PAYMENT_PROVIDERS:
        settings.PAYMENT_PROVIDERS = [*settings.PAYMENT_PROVIDERS, PROVIDER_PATH]
    return settings


@pytest.fixture
def alipay_gateway(monkeypatch, alipay_platform_keys):
    """Answer the SDK's `do_post` like Alipay: `<method>_response` JSON signed with the platform key.

    `answer(response)` answers every method alike; `methods={"alipay.trade.refund": {...}}` answers
    per method; an answer may be a callable taking the request's biz_content (a dict), for answers
    that name what the request named; `error` is raised as the SDK raises a network failure. Per
    method, an exception instance is raised instead of answering (`read_timeout()`), and a list is
    a script: one answer per call, in order, and a call past its end fails the test.
    `answer.calls` records each call as {"url", "query", "params", "method"}.
    """
    calls = []

    def answer(response=None, *, methods=None, signing_key=None, error=None) -> None:
        methods = dict(methods or {})
        scripts = {method: list(body) for method, body in methods.items() if isinstance(body, list)}

        def do_post(url, query_string=None, headers=None, params=None, charset="utf-8", timeout=15):
            query = dict(parse_qsl(query_string))
            calls.append({"url": url, "query": query, "params": params, "method": query["method"]})
            if error is not None:
                raise error
            if query["method"] in scripts:
                assert scripts[query["method"]], f"unexpected extra call to {query['method']}"
                body = scripts[query["method"]].pop(0)
            else:
                body = methods.get(query["method"], response)
            if isinstance(body, BaseException):
                raise body
            if callable(body):
                body = body(json.loads((params or {}).get("biz_content") or "{}"))
            inner = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            sign = rsa2_sign(inner, signing_key or alipay_platform_keys[1])
            key = query["method"].replace(".", "_") + "_response"
            return f'{{"{key}":{inner},"sign":"{sign}"}}'.encode()

        monkeypatch.setattr("alipay.aop.api.DefaultAlipayClient.do_post", do_post)

    answer.calls = calls
    return answer


@pytest.fixture
def alipay_notification(alipay_platform_keys):
    """Build a genuine notification for a payment: `alipay_notification(payment, **overrides)`."""

    def build(payment, **overrides) -> dict[str, str]:
        return notification_params(payment, alipay_platform_keys[1], **overrides)

    return build


@pytest.fixture
def post_alipay_notification(client, django_capture_on_commit_callbacks):
    """POST a notification to our notify URL; on-commit work (delivery) runs before it returns."""

    def post(body: str | dict):
        with django_capture_on_commit_callbacks(execute=True):
            return post_form(client, NOTIFY_URL, body)

    return post
