"""Payouts: money sent from the shop to a person (a reseller withdrawing commissions).

The mirror image of payment providers, and far more dangerous to get wrong: a payment taken twice can
be refunded, a payout sent twice is gone. So the rules below are about never paying twice. Every
transfer carries our idempotency key (`out_biz_no`); an answer we did not get (timeout, network error,
system error) raises GatewayError and is settled by `query()` or by sending the same transfer again
under the same key, never by a new key. FAILED is returned only when the gateway has said for
certain that nothing moved.

`get_payout_gateway()` picks the gateway from settings; without one, staff pay by hand and mark the
payout paid in admin. The service that owns payout rows decides what each answer means for them.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from alipay.aop.api.request.AlipayFundTransCommonQueryRequest import AlipayFundTransCommonQueryRequest
from alipay.aop.api.request.AlipayFundTransUniTransferRequest import AlipayFundTransUniTransferRequest
from alipay.aop.api.response.AlipayFundTransCommonQueryResponse import AlipayFundTransCommonQueryResponse
from alipay.aop.api.response.AlipayFundTransUniTransferResponse import AlipayFundTransUniTransferResponse
from alipay.aop.api.response.AlipayResponse import AlipayResponse
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from kamen.money import round_fen
from payments.providers.alipay import BUSINESS_FAILURE, SUCCESS, AlipayError, AlipayProvider
from payments.providers.base import GatewayError


class PayoutState(StrEnum):
    """What a gateway says about one transfer."""

    #: The money reached the payee.
    SUCCEEDED = "succeeded"
    #: Accepted, not finished: ask again later with query().
    PROCESSING = "processing"
    #: Refused for good, or never received by the gateway: nothing moved.
    FAILED = "failed"


@dataclass(frozen=True)
class PayoutResult:
    state: PayoutState
    gateway_order_id: str = ""
    #: The gateway's reason, for staff.
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", PayoutState(self.state))  # an unknown state is a bug: ValueError


class PayoutNotFound(GatewayError):
    """The gateway has no record of the transfer yet. Not a failure: it may still be processing.

    Ask again later, or send the very same transfer again under the same `out_biz_no` (which never
    pays twice, and makes the gateway decide); never give up on it and pay under a new key.
    """


class PayoutGateway:
    """Base class of payout gateways; the hooks' docstrings are the contract."""

    #: Short identifier stored on payouts (`alipay`, `sandbox`).
    code: str = ""
    #: Name shown to staff.
    verbose_name = ""

    def transfer(self, *, out_biz_no: str, amount: Decimal, account: str, name: str, title: str) -> PayoutResult:
        """Send `amount` yuan to `account` (the payee's Alipay login: phone or e-mail) whose real name is `name`.

        `out_biz_no` is our idempotency key: sending the same one again, with the same amount and
        payee, never pays twice. `title` shows on the payee's bill. `amount` is a Decimal of whole
        fen above zero, else ValueError (nothing is sent). Raises GatewayError when the answer is
        unknown (timeout, network error, a system error code, an answer not signed by the gateway):
        the caller must then call query() or send this same transfer again under the same key,
        never transfer() with a new key.
        """
        raise NotImplementedError

    def query(self, *, out_biz_no: str) -> PayoutResult:
        """What became of the transfer `out_biz_no`.

        Raises GatewayError when the gateway cannot say, and PayoutNotFound (a GatewayError) when it
        has no record of the transfer: a gateway may not show a transfer it is still processing.
        """
        raise NotImplementedError


def trans_amount(amount: Decimal) -> str:
    """`amount` as the gateway's yuan string with two decimals; refuses floats, fractions of a fen, ≤ 0."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"a payout amount is a Decimal, not {type(amount).__name__}")
    if not amount.is_finite() or amount <= 0 or round_fen(amount) != amount:
        raise ValueError(f"a payout amount is a positive number of whole fen, not {amount}")
    return f"{amount:.2f}"


# ---------------------------------------------------------------------------------------------------
# 支付宝 单笔转账到支付宝账户 (alipay.fund.trans.uni.transfer)
# ---------------------------------------------------------------------------------------------------
PRODUCT_CODE = "TRANS_ACCOUNT_NO_PWD"
BIZ_SCENE = "DIRECT_TRANSFER"
TRANSFER_STATES = {
    "SUCCESS": PayoutState.SUCCEEDED,
    "DEALING": PayoutState.PROCESSING,
    "WAIT_PAY": PayoutState.PROCESSING,
    "FAIL": PayoutState.FAILED,
    "REFUND": PayoutState.FAILED,  # 退票: paid out, then returned to the shop's account
    "CLOSED": PayoutState.FAILED,
}
# The sub_codes Alipay documents for this API as refusals: the transfer was not made and will not be.
# Any other 40004 (SYSTEM_ERROR; PAYMENT_INFO_INCONSISTENCY, "this key was used before with other
# details", whose first use may have paid; anything new) raises, and a query settles it: a refusal
# wrongly taken for "unknown" costs a query, an unknown wrongly taken for a refusal may pay twice.
REFUSALS = frozenset(
    {
        "INVALID_PARAMETER",
        "PAYEE_NOT_EXIST",
        "PAYEE_USER_INFO_ERROR",
        "PAYEE_ACC_OCUPIED",
        "PERM_AML_NOT_REALNAME_REV",
        "PERMIT_NON_BANK_LIMIT_PAYEE",
        "EXCEED_LIMIT_UNRN_DM_AMOUNT",
        "PAYER_BALANCE_NOT_ENOUGH",
        "BALANCE_IS_NOT_ENOUGH",
        "PAYER_STATUS_ERROR",
        "PAYER_USER_INFO_ERROR",
        "PAYER_DATA_INCOMPLETE",
        "PAYER_CERT_EXPIRED",
        "PAYCARD_UNABLE_PAYMENT",
        "PERMIT_CHECK_PERM_LIMITED",
        "PERMIT_CHECK_PERM_IDENTITY_THEFT",
        "PERMIT_PAYER_LOWEST_FORBIDDEN",
        "PERMIT_PAYER_FORBIDDEN",
        "ACCOUNT_NOT_EXIST",
        "CERT_MISS_TRANS_LIMIT",
        "CERT_MISS_ACC_LIMIT",
        "MEMO_REQUIRED_IN_TRANSFER_ERROR",
        "REMARK_HAS_SENSITIVE_WORD",
        "EXCEED_LIMIT_SM_AMOUNT",
        "EXCEED_LIMIT_SM_MIN_AMOUNT",
        "EXCEED_LIMIT_PERSONAL_SM_AMOUNT",
        "EXCEED_LIMIT_ENT_SM_AMOUNT",
        "EXCEED_LIMIT_DM_AMOUNT",
        "EXCEED_LIMIT_DM_MAX_AMOUNT",
        "EXCEED_LIMIT_MM_AMOUNT",
    }
)
# Alipay's own words for ORDER_NOT_EXIST: the transfer may still be processing; do not treat it as failed.
NOT_FOUND = "ORDER_NOT_EXIST"


def _describe(answer: AlipayResponse) -> str:
    return " ".join(str(part) for part in (answer.code, answer.msg, answer.sub_code, answer.sub_msg) if part)


class AlipayPayouts(PayoutGateway):
    """单笔无密转账到支付宝账户, signed and verified by the same client and keys as AlipayProvider."""

    code = "alipay"
    verbose_name = _("Alipay")

    def __init__(self) -> None:
        self._alipay = AlipayProvider()

    def transfer(self, *, out_biz_no: str, amount: Decimal, account: str, name: str, title: str) -> PayoutResult:
        """alipay.fund.trans.uni.transfer to an Alipay login (ALIPAY_LOGON_ID), checked against `name`.

        Code 10000 answers SUCCESS, DEALING or FAIL; a documented refusal (REFUSALS) is FAILED with
        Alipay's reason; any other answer raises GatewayError.
        """
        request = AlipayFundTransUniTransferRequest()
        request.biz_content = {
            "out_biz_no": out_biz_no,
            "trans_amount": trans_amount(amount),
            "product_code": PRODUCT_CODE,
            "biz_scene": BIZ_SCENE,
            "order_title": title,
            "payee_info": {"identity": account, "identity_type": "ALIPAY_LOGON_ID", "name": name},
        }
        what = f"transfer {out_biz_no}"
        answer = self._alipay._call(request, AlipayFundTransUniTransferResponse, what)
        if answer.code == BUSINESS_FAILURE and answer.sub_code in REFUSALS:
            return PayoutResult(PayoutState.FAILED, message=f"{answer.sub_code} {answer.sub_msg or ''}".strip())
        return _result(answer, out_biz_no, what)

    def query(self, *, out_biz_no: str) -> PayoutResult:
        """alipay.fund.trans.common.query by our key; ORDER_NOT_EXIST raises PayoutNotFound.

        Alipay warns that a transfer it is still processing may not be found yet, and that a merchant
        who takes "not found" for "failed" bears the loss.
        """
        request = AlipayFundTransCommonQueryRequest()
        request.biz_content = {"out_biz_no": out_biz_no, "product_code": PRODUCT_CODE, "biz_scene": BIZ_SCENE}
        what = f"transfer query {out_biz_no}"
        answer = self._alipay._call(request, AlipayFundTransCommonQueryResponse, what)
        if answer.code == BUSINESS_FAILURE and answer.sub_code == NOT_FOUND:
            raise PayoutNotFound(f"{what}: Alipay has no record of it (yet): {_describe(answer)}")
        # Only the query gives a failed transfer's reason.
        reason = " ".join(part for part in (answer.error_code, answer.fail_reason) if part)
        return _result(answer, out_biz_no, what, reason=reason)


def _result(answer, out_biz_no: str, what: str, *, reason: str = "") -> PayoutResult:
    """A verified 10000 answer about `out_biz_no` read as a PayoutResult; anything else raises."""
    if answer.code != SUCCESS:
        raise AlipayError(f"{what}: {_describe(answer)}")
    if answer.out_biz_no and answer.out_biz_no != out_biz_no:
        raise AlipayError(f"{what}: answer is about {answer.out_biz_no!r}")
    state = TRANSFER_STATES.get(answer.status)
    if state is None:
        raise AlipayError(f"{what}: unknown status {answer.status!r}")
    order_id = answer.order_id or ""
    if state == PayoutState.SUCCEEDED and not order_id:
        raise AlipayError(f"{what}: SUCCESS without an order id")
    return PayoutResult(state, gateway_order_id=order_id, message=reason or f"status {answer.status}")


# ---------------------------------------------------------------------------------------------------
# 模拟转账: the sandbox
# ---------------------------------------------------------------------------------------------------
class SandboxPayouts(PayoutGateway):
    """The embedded demo shop's gateway: every transfer succeeds at once, and no money moves.

    It keeps no books, so `query` answers what `transfer` would have: succeeded. Off wherever the
    sandbox is off (always in production).
    """

    code = "sandbox"
    verbose_name = _("Sandbox payout (test)")

    def transfer(self, *, out_biz_no: str, amount: Decimal, account: str, name: str, title: str) -> PayoutResult:
        """Succeeds at once; the key stands in for the gateway's order id, so a repeat is the same transfer."""
        trans_amount(amount)  # the same amounts are refused as by a real gateway
        return self.query(out_biz_no=out_biz_no)

    def query(self, *, out_biz_no: str) -> PayoutResult:
        """Succeeded, as every sandbox transfer is."""
        if not settings.SANDBOX_PAYMENTS_ENABLED:
            # Never a pretend payout where real ones are expected; the payout waits for staff.
            raise GatewayError("sandbox payouts are off")
        return PayoutResult(PayoutState.SUCCEEDED, gateway_order_id=f"SBX{out_biz_no}", message="sandbox")


def get_payout_gateway() -> PayoutGateway | None:
    """Alipay when ALIPAY_ENABLED, else the sandbox when settings.SANDBOX_PAYMENTS_ENABLED, else None
    (payouts are then marked paid by hand in admin)."""
    if getattr(settings, "ALIPAY_ENABLED", False):
        return AlipayPayouts()
    if settings.SANDBOX_PAYMENTS_ENABLED:
        return SandboxPayouts()
    return None
