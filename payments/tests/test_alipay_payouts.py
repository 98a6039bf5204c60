"""Payouts: transfers to an Alipay account, the sandbox's, and which gateway settings choose.

No network and no database: the SDK's `do_post` is faked by the `alipay_gateway` fixture
(kamen/testing/fake_alipay.py), whose answers are signed with a key pair this run generated.
"""

from decimal import Decimal

import pytest

from kamen.testing.fake_alipay import (
    SERVER_URL,
    TRANSFER,
    TRANSFER_ORDER_ID,
    TRANSFER_QUERY,
    biz_content,
    connect_failure,
    key_pair,
    read_timeout,
    refusal,
    request_signature_valid,
    system_error,
    transfer_answer,
    transfer_query_answer,
)
from payments.payouts import (
    AlipayPayouts,
    PayoutNotFound,
    PayoutResult,
    PayoutState,
    SandboxPayouts,
    get_payout_gateway,
)
from payments.providers.base import GatewayError

pytestmark = pytest.mark.usefixtures("alipay_enabled")

KEY = "W2026010200000000000000001"


def send(gateway=None, **overrides) -> PayoutResult:
    details = {
        "out_biz_no": KEY,
        "amount": Decimal("12.30"),
        "account": "reseller@example.com",
        "name": "张三",
        "title": "佣金提现",
        **overrides,
    }
    return (gateway or AlipayPayouts()).transfer(**details)


def query(out_biz_no: str = KEY) -> PayoutResult:
    return AlipayPayouts().query(out_biz_no=out_biz_no)


# The request


def test_a_transfer_sends_our_key_amount_and_payee_signed_with_our_app_key(alipay_gateway, alipay_app_keys):
    alipay_gateway(transfer_answer(KEY))

    send()

    (call,) = alipay_gateway.calls
    assert call["url"] == SERVER_URL
    assert call["method"] == TRANSFER
    assert biz_content(call) == {
        "out_biz_no": KEY,
        "trans_amount": "12.30",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "order_title": "佣金提现",
        "payee_info": {"identity": "reseller@example.com", "identity_type": "ALIPAY_LOGON_ID", "name": "张三"},
    }
    assert request_signature_valid(call, alipay_app_keys[2])
    tampered = {
        **call,
        "params": {**call["params"], "biz_content": call["params"]["biz_content"].replace("12.30", "99.99")},
    }
    assert not request_signature_valid(tampered, alipay_app_keys[2])


@pytest.mark.parametrize(
    ("amount", "sent"), [(Decimal("12.3"), "12.30"), (Decimal("100"), "100.00"), (Decimal("0.10"), "0.10")]
)
def test_amounts_go_as_yuan_with_two_decimals(alipay_gateway, amount, sent):
    alipay_gateway(transfer_answer(KEY))

    send(amount=amount)

    assert biz_content(alipay_gateway.calls[0])["trans_amount"] == sent


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        pytest.param(12.3, TypeError, id="float"),
        pytest.param("12.30", TypeError, id="str"),
        pytest.param(Decimal("12.305"), ValueError, id="fraction-of-a-fen"),
        pytest.param(Decimal("0"), ValueError, id="zero"),
        pytest.param(Decimal("-1.00"), ValueError, id="negative"),
        pytest.param(Decimal("NaN"), ValueError, id="nan"),
    ],
)
@pytest.mark.parametrize("gateway", [AlipayPayouts, SandboxPayouts], ids=["alipay", "sandbox"])
def test_a_malformed_amount_is_refused_before_anything_is_sent(alipay_gateway, settings, gateway, amount, error):
    settings.SANDBOX_PAYMENTS_ENABLED = True
    alipay_gateway(transfer_answer(KEY))

    with pytest.raises(error):
        send(gateway(), amount=amount)

    assert alipay_gateway.calls == []


def test_sending_the_same_transfer_again_sends_the_same_key_and_details(alipay_gateway):
    key = "W-2026_0102-0001"  # Alipay takes letters, digits, "-" and "_"; ours goes as it is
    alipay_gateway(methods={TRANSFER: [transfer_answer(key, "DEALING"), transfer_answer(key, "SUCCESS")]})

    first, again = send(out_biz_no=key), send(out_biz_no=key)

    assert (first.state, again.state) == ("processing", "succeeded")
    sent = [biz_content(call) for call in alipay_gateway.calls]
    assert sent[0] == sent[1]
    assert sent[0]["out_biz_no"] == key


# Answers to a transfer


@pytest.mark.parametrize(
    ("status", "expected"),
    [("SUCCESS", PayoutState.SUCCEEDED), ("DEALING", PayoutState.PROCESSING), ("FAIL", PayoutState.FAILED)],
)
def test_a_transfer_answer_is_read_by_its_status(alipay_gateway, status, expected):
    alipay_gateway(transfer_answer(KEY, status))

    assert send() == PayoutResult(expected, gateway_order_id=TRANSFER_ORDER_ID, message=f"status {status}")


@pytest.mark.parametrize(
    ("sub_code", "sub_msg"),
    [
        ("PAYEE_NOT_EXIST", "收款账号不存在"),
        ("PAYEE_USER_INFO_ERROR", "支付宝账号和姓名不匹配，请确认姓名是否正确"),
        ("PAYEE_ACC_OCUPIED", "该手机号对应多个支付宝账户，请传入收款方姓名确定正确的收款账号"),
        ("PAYER_BALANCE_NOT_ENOUGH", "付款方余额不足"),
        ("EXCEED_LIMIT_SM_MIN_AMOUNT", "单笔最低转账金额0.1元"),
    ],
)
def test_a_refusal_fails_with_alipays_reason(alipay_gateway, sub_code, sub_msg):
    alipay_gateway(refusal(sub_code, sub_msg))

    assert send() == PayoutResult(PayoutState.FAILED, message=f"{sub_code} {sub_msg}")


UNKNOWN_OUTCOMES = [
    pytest.param({"response": system_error()}, id="system-error-20000"),
    pytest.param({"response": refusal("SYSTEM_ERROR", "系统繁忙")}, id="system-error-40004"),
    # The key was used before with other details: that first transfer may have paid.
    pytest.param(
        {"response": refusal("PAYMENT_INFO_INCONSISTENCY", "两次请求商户单号一样，但是参数不一致")}, id="reused-key"
    ),
    pytest.param({"response": refusal("SOMETHING_NEW")}, id="undocumented-refusal"),
    pytest.param(
        {"response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}},
        id="gateway-refusal",
    ),
    pytest.param({"error": read_timeout()}, id="read-timeout"),
    pytest.param({"error": connect_failure()}, id="connect-failure"),
    pytest.param({"response": transfer_answer(KEY, "PROCESSING_SOMEHOW")}, id="unknown-status"),
    pytest.param({"response": transfer_answer("W-someone-else")}, id="another-key"),
    pytest.param({"response": transfer_answer(KEY, order_id="")}, id="success-without-order-id"),
]


@pytest.mark.parametrize("fake", UNKNOWN_OUTCOMES)
def test_a_transfer_whose_outcome_is_unknown_raises(alipay_gateway, fake):
    alipay_gateway(**fake)

    with pytest.raises(GatewayError):
        send()


def test_a_transfer_answer_not_signed_by_alipay_raises(alipay_gateway):
    alipay_gateway(transfer_answer(KEY), signing_key=key_pair()[1])

    with pytest.raises(GatewayError, match="sign verify failed"):
        send()


def test_a_timed_out_transfer_is_settled_by_a_query_under_the_same_key(alipay_gateway):
    alipay_gateway(methods={TRANSFER: read_timeout(), TRANSFER_QUERY: transfer_query_answer(KEY, "SUCCESS")})

    with pytest.raises(GatewayError, match="timed out"):
        send()
    result = query()

    assert result == PayoutResult(PayoutState.SUCCEEDED, gateway_order_id=TRANSFER_ORDER_ID, message="status SUCCESS")
    assert [(call["method"], biz_content(call)["out_biz_no"]) for call in alipay_gateway.calls] == [
        (TRANSFER, KEY),
        (TRANSFER_QUERY, KEY),
    ]


def test_a_dealing_transfer_succeeds_on_a_later_query(alipay_gateway):
    alipay_gateway(methods={TRANSFER: transfer_answer(KEY, "DEALING"), TRANSFER_QUERY: transfer_query_answer(KEY)})

    assert send().state == PayoutState.PROCESSING
    assert query().state == PayoutState.SUCCEEDED
    assert biz_content(alipay_gateway.calls[1]) == {
        "out_biz_no": KEY,
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
    }


# Answers to a query


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", PayoutState.SUCCEEDED),
        ("DEALING", PayoutState.PROCESSING),
        ("WAIT_PAY", PayoutState.PROCESSING),
        ("FAIL", PayoutState.FAILED),
        ("REFUND", PayoutState.FAILED),
        ("CLOSED", PayoutState.FAILED),
    ],
)
def test_a_query_is_read_by_its_status(alipay_gateway, status, expected):
    alipay_gateway(transfer_query_answer(KEY, status))

    result = query()

    assert (result.state, result.gateway_order_id) == (expected, TRANSFER_ORDER_ID)


def test_a_failed_transfer_names_alipays_reason(alipay_gateway):
    alipay_gateway(transfer_query_answer(KEY, "FAIL", error_code="PAYEE_NOT_EXIST", fail_reason="收款账号不存在"))

    assert query() == PayoutResult(
        PayoutState.FAILED, gateway_order_id=TRANSFER_ORDER_ID, message="PAYEE_NOT_EXIST 收款账号不存在"
    )


def test_a_transfer_alipay_has_no_record_of_is_not_taken_for_failed(alipay_gateway):
    # Alipay: ORDER_NOT_EXIST may be a transfer still processing; who takes it for failed bears the loss.
    alipay_gateway(refusal("ORDER_NOT_EXIST", "转账订单不存在"))

    with pytest.raises(PayoutNotFound, match="ORDER_NOT_EXIST"):
        query()

    assert issubclass(PayoutNotFound, GatewayError)


@pytest.mark.parametrize(
    "fake",
    [
        pytest.param({"response": system_error()}, id="system-error-20000"),
        pytest.param({"response": refusal("SYSTEM_ERROR", "系统繁忙")}, id="system-error-40004"),
        pytest.param({"response": refusal("NO_ORDER_PERMISSION")}, id="not-ours"),
        pytest.param({"error": read_timeout()}, id="read-timeout"),
        pytest.param({"response": transfer_query_answer("W-someone-else")}, id="another-key"),
        pytest.param({"response": transfer_query_answer(KEY, "UNHEARD_OF")}, id="unknown-status"),
    ],
)
def test_a_query_that_cannot_tell_raises(alipay_gateway, fake):
    alipay_gateway(**fake)

    with pytest.raises(GatewayError):
        query()


def test_a_query_answer_not_signed_by_alipay_raises(alipay_gateway):
    alipay_gateway(transfer_query_answer(KEY), signing_key=key_pair()[1])

    with pytest.raises(GatewayError, match="sign verify failed"):
        query()


# The sandbox


def test_the_sandbox_pays_at_once_and_says_so_when_asked(settings, alipay_gateway):
    settings.SANDBOX_PAYMENTS_ENABLED = True
    alipay_gateway(error=AssertionError("the sandbox never calls Alipay"))
    sandbox = SandboxPayouts()

    paid = send(sandbox)

    assert paid == PayoutResult(PayoutState.SUCCEEDED, gateway_order_id=f"SBX{KEY}", message="sandbox")
    assert sandbox.query(out_biz_no=KEY) == paid
    assert alipay_gateway.calls == []


def test_the_sandbox_pays_nothing_where_it_is_off(settings):
    settings.SANDBOX_PAYMENTS_ENABLED = False

    with pytest.raises(GatewayError, match="off"):
        send(SandboxPayouts())


# Choosing the gateway


@pytest.mark.parametrize(
    ("alipay", "sandbox", "expected"),
    [
        (True, True, AlipayPayouts),
        (True, False, AlipayPayouts),
        (False, True, SandboxPayouts),
        (False, False, type(None)),
    ],
)
def test_settings_choose_the_payout_gateway(settings, alipay, sandbox, expected):
    settings.ALIPAY_ENABLED = alipay
    settings.SANDBOX_PAYMENTS_ENABLED = sandbox

    gateway = get_payout_gateway()

    assert type(gateway) is expected
    if gateway is not None:
        assert gateway.code == {AlipayPayouts: "alipay", SandboxPayouts: "sandbox"}[expected]


def test_a_result_state_is_one_of_the_three():
    assert PayoutResult("succeeded").state is PayoutState.SUCCEEDED
    with pytest.raises(ValueError):
        PayoutResult("paid")
