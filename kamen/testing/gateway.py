"""A scripted payment gateway for tests of what surrounds a gateway (reconciliation, refunds, pages).

Each test sets what the gateway answers; calls are recorded. The real gateways' own behaviour is
tested against their faked HTTP layers in payments/tests/test_alipay_*.py and test_wechat_*.py.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.http import HttpRequest

from payments.providers.base import (
    BasePaymentProvider,
    GatewayError,
    NotificationRejected,
    PaymentAction,
    RefundResult,
    TradeStatus,
    VerifiedNotification,
    VerifiedRefundNotification,
)

PATH = "kamen.testing.gateway.ScriptedGateway"


class ScriptedGateway(BasePaymentProvider):
    """Answers from class attributes a test sets; raises GatewayError for an answer that is an exception."""

    code = "scripted"
    verbose_name = "Scripted Pay"
    resumable = True
    reconciles = True
    close_not_before = timedelta(0)

    calls: list[tuple[str, str]] = []
    action = PaymentAction(kind="qr", qr_content="scripted://pay")
    trade_status: TradeStatus | Exception = TradeStatus("waiting")
    close_error: Exception | None = None
    refund_result: RefundResult | Exception = RefundResult("succeeded", gateway_refund_id="SR1")
    refund_query_result: RefundResult | Exception = RefundResult("succeeded", gateway_refund_id="SR1")

    @classmethod
    def reset(cls) -> None:
        cls.calls = []
        cls.action = PaymentAction(kind="qr", qr_content="scripted://pay")
        cls.trade_status = TradeStatus("waiting")
        cls.close_error = None
        cls.refund_result = RefundResult("succeeded", gateway_refund_id="SR1")
        cls.refund_query_result = RefundResult("succeeded", gateway_refund_id="SR1")
        cls.close_not_before = timedelta(0)

    def _answer(self, call: str, subject: str, answer):
        self.calls.append((call, subject))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def start(self, payment, *, request: HttpRequest) -> PaymentAction:
        return self._answer("start", payment.trade_no, self.action)

    def query(self, payment) -> TradeStatus:
        return self._answer("query", payment.trade_no, self.trade_status)

    def close(self, payment) -> None:
        self._answer("close", payment.trade_no, self.close_error)

    def refund(self, refund) -> RefundResult:
        return self._answer("refund", refund.refund_no, self.refund_result)

    def query_refund(self, refund) -> RefundResult:
        return self._answer("query_refund", refund.refund_no, self.refund_query_result)

    def parse_notification(self, request: HttpRequest):
        """Trusts its form (a test gateway): kind=payment|refund with the fields of each."""
        form = request.POST
        if form.get("kind") == "refund":
            return VerifiedRefundNotification(
                trade_no=form["trade_no"], refund_no=form["refund_no"], succeeded=form.get("status") == "SUCCESS"
            )
        if form.get("kind") == "payment":
            return VerifiedNotification(
                trade_no=form["trade_no"], amount=Decimal(form["amount"]), gateway_trade_no=form["gateway_trade_no"]
            )
        raise NotificationRejected("unknown kind")


@pytest.fixture
def scripted_gateway(settings):
    """ScriptedGateway enabled beside the others, reset for this test."""
    ScriptedGateway.reset()
    settings.PAYMENT_PROVIDERS = [*settings.PAYMENT_PROVIDERS, PATH]
    yield ScriptedGateway
    ScriptedGateway.reset()


__all__ = ["GatewayError", "ScriptedGateway", "scripted_gateway"]
