"""Whole flows through the services and the notify URL, the same for Alipay and WeChat Pay.

Each gateway is faked at its SDK's HTTP layer (kamen/testing/fake_alipay.py, fake_wechat.py); the
`gateway` fixture below drives either fake through one small interface, so a flow is written once.
"""

import json
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import WalletEntry
from catalog.models import CardCode
from kamen.testing import factories, fake_alipay, fake_wechat
from kamen.testing.factories import order_of
from kamen.testing.notifications import post_form
from kamen.testing.threads import MANY_CONNECTIONS, run_together
from orders import services as order_services
from orders.models import Order, OrderEvent
from payments import services
from payments.models import Payment, PaymentNotification, Refund

pytestmark = pytest.mark.usefixtures("alipay_enabled", "wechat_enabled")

NOT_EXIST = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}


def yuan_fen(amount: Decimal) -> int:
    return int(amount * 100)


@dataclass
class AlipayDriver:
    """Alipay's fake, answering per API method."""

    fake: object
    notification: object
    code = "alipay"
    accepted = (200, b"success")

    def answer_paid(self, payment: Payment) -> None:
        self.fake(methods={"alipay.trade.query": fake_alipay.trade_answer(payment, "TRADE_SUCCESS")})

    def answer_unpaid_and_closing(self, payment: Payment, *, closing: bool = True) -> None:
        self.fake(
            methods={
                "alipay.trade.query": fake_alipay.trade_answer(payment, "WAIT_BUYER_PAY"),
                "alipay.trade.close": fake_alipay.close_answer(payment),
            }
        )

    def answer_refunds(self, payment: Payment) -> None:
        """Every refund moves money at once (fund_change Y)."""
        answer = lambda biz: fake_alipay.refund_answer(payment, "Y", refund_fee=biz["refund_amount"])  # noqa: E731
        self.fake(methods={"alipay.trade.refund": answer})

    def paid_notice(self, payment: Payment):
        """One signed notification of payment, to be posted as often as wanted: `post(client)`."""
        params = self.notification(payment)
        return lambda client: post_form(client, fake_alipay.NOTIFY_URL, params)

    def notify_paid(self, client: Client, payment: Payment):
        return self.paid_notice(payment)(client)

    def calls(self) -> list[tuple[str, dict]]:
        """(API method, biz_content) of every call made."""
        return [(call["method"], json.loads(call["params"]["biz_content"])) for call in self.fake.calls]


@dataclass
class WeChatDriver:
    """WeChat Pay's fake, answering from a queue in call order."""

    fake: fake_wechat.FakeGateway
    notification: object
    code = "wechat"
    accepted = (204, b"")

    def answer_paid(self, payment: Payment) -> None:
        self.fake.answer(200, fake_wechat.trade_answer(payment, "SUCCESS"))

    def answer_unpaid_and_closing(self, payment: Payment, *, closing: bool = True) -> None:
        self.fake.answer(200, fake_wechat.trade_answer(payment, "NOTPAY"))
        if closing:
            self.fake.answer(204)

    def answer_refunds(self, payment: Payment, status: str = "SUCCESS") -> None:
        def answer(call):
            return fake_wechat.refund_answer(Refund.objects.get(refund_no=call.json["out_refund_no"]), status)

        self.fake.answer(200, answer)

    def paid_notice(self, payment: Payment):
        return self.notification(fake_wechat.transaction(payment)).post

    def notify_paid(self, client: Client, payment: Payment):
        return self.paid_notice(payment)(client)

    def calls(self) -> list[tuple[str, str]]:
        return [(call.method, call.path) for call in self.fake.calls]


@pytest.fixture(params=["alipay", "wechat"])
def gateway(request, alipay_gateway, alipay_notification, wechat_gateway, wechat_notification):
    if request.param == "alipay":
        alipay_gateway(NOT_EXIST)  # until a test says otherwise; every call is recorded
        return AlipayDriver(alipay_gateway, alipay_notification)
    return WeChatDriver(wechat_gateway, wechat_notification)


def age(payment: Payment, minutes: int) -> None:
    """Move the payment and its order `minutes` into the past (the gateways read the real clock)."""
    shift = timedelta(minutes=minutes)
    Payment.objects.filter(pk=payment.pk).update(
        created_at=payment.created_at - shift, expires_at=payment.expires_at - shift
    )
    order = order_of(payment)
    Order.objects.filter(pk=order.pk).update(expires_at=order.expires_at - shift)
    payment.refresh_from_db()


def sold(order_id: int) -> int:
    return CardCode.objects.filter(order_id=order_id, status=CardCode.Status.SOLD).count()


@pytest.fixture
def delivered(sku, gateway, client, django_capture_on_commit_callbacks):
    """A guest's order paid through a genuine notification and delivered."""
    payment = factories.place_order(sku, gateway.code).payment
    with django_capture_on_commit_callbacks(execute=True):
        gateway.notify_paid(client, payment)
    assert order_of(payment).status == Order.Status.DELIVERED
    return Payment.objects.get(pk=payment.pk)


# A lost notification


def test_a_lost_notification_is_recovered_by_the_query_job(sku, gateway, django_capture_on_commit_callbacks):
    # given the shopper paid but no notification came
    payment = factories.place_order(sku, gateway.code).payment
    gateway.answer_paid(payment)

    # when the beat job runs a few minutes later
    with django_capture_on_commit_callbacks(execute=True):
        report = services.reconcile_pending_payments(now=timezone.now() + timedelta(minutes=3))

    # then it asked about our trade, confirmed it and delivered
    assert report.outcomes == {"confirmed": 1}
    (call,) = gateway.calls()
    if gateway.code == "alipay":
        assert call == ("alipay.trade.query", {"out_trade_no": payment.trade_no})
    else:
        assert call == ("GET", f"/v3/pay/transactions/out-trade-no/{payment.trade_no}?mchid={fake_wechat.MCHID}")
    payment.refresh_from_db()
    assert payment.state == Payment.State.CONFIRMED
    assert order_of(payment).status == Order.Status.DELIVERED
    assert sold(order_of(payment).pk) == 2


# Closing expired trades


def test_an_expired_trade_is_closed_and_a_payment_made_just_before_still_delivers(
    sku, gateway, client, django_capture_on_commit_callbacks
):
    # given an order that expired unpaid
    payment = factories.place_order(sku, gateway.code).payment
    age(payment, 16)
    assert order_services.expire_unpaid_orders() == 1
    gateway.answer_unpaid_and_closing(payment)

    # when the beat job runs, the trade is closed at the gateway
    assert services.reconcile_pending_payments().outcomes == {"closed": 1}
    assert [call[0] for call in gateway.calls()] in (["alipay.trade.query", "alipay.trade.close"], ["GET", "POST"])
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED

    # and a notification of a payment made just before the close still confirms it
    with django_capture_on_commit_callbacks(execute=True):
        response = gateway.notify_paid(client, payment)

    assert response.status_code in (200, 204)
    assert PaymentNotification.objects.get().result == PaymentNotification.Result.CONFIRMED
    payment.refresh_from_db()
    assert payment.state == Payment.State.CONFIRMED
    order = order_of(payment)
    assert order.status == Order.Status.DELIVERED
    assert order.events.filter(type="paid_late").exists()
    assert sold(order.pk) == 2


def test_a_cancelled_order_is_closed_at_once_by_alipay_and_after_five_minutes_by_wechat_pay(sku, gateway):
    # given a shopper who gave up at once
    payment = factories.place_order(sku, gateway.code).payment
    order_services.cancel_order(order_of(payment), actor=None)
    age(payment, 3)
    gateway.answer_unpaid_and_closing(payment, closing=gateway.code == "alipay")

    report = services.reconcile_pending_payments()

    if gateway.code == "alipay":  # Alipay closes a trade of any age
        assert report.outcomes == {"closed": 1}
        return
    # WeChat Pay refuses to close a trade younger than five minutes: it is only queried
    assert report.outcomes == {"waiting": 1}
    assert gateway.calls() == [
        ("GET", f"/v3/pay/transactions/out-trade-no/{payment.trade_no}?mchid={fake_wechat.MCHID}")
    ]
    age(payment, 3)
    gateway.answer_unpaid_and_closing(payment)
    assert services.reconcile_pending_payments().outcomes == {"closed": 1}
    assert gateway.calls()[-1] == ("POST", f"/v3/pay/transactions/out-trade-no/{payment.trade_no}/close")
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CANCELLED


# Refunds


@pytest.mark.parametrize("gateway", ["alipay"], indirect=True)
def test_a_refund_to_alipay_succeeds_at_once(delivered, gateway, staff, django_capture_on_commit_callbacks):
    gateway.answer_refunds(delivered)

    with django_capture_on_commit_callbacks(execute=True):
        refund = order_services.create_refund(
            order_of(delivered), amount=Decimal("20.00"), destination="original", actor=staff
        )

    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert order_of(delivered).refund_status == Order.RefundStatus.FULL
    ((method, biz),) = gateway.calls()
    assert method == "alipay.trade.refund"
    assert biz["out_request_no"] == refund.refund_no
    assert biz["out_trade_no"] == delivered.trade_no
    assert biz["refund_amount"] == "20.00"


@pytest.mark.parametrize("gateway", ["wechat"], indirect=True)
def test_a_refund_to_wechat_pay_processes_until_its_notification(
    delivered, gateway, staff, client, django_capture_on_commit_callbacks
):
    gateway.answer_refunds(delivered, status="PROCESSING")

    # when staff refund in full, WeChat Pay accepts the refund but has not paid it yet
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_services.create_refund(
            order_of(delivered), amount=Decimal("20.00"), destination="original", actor=staff
        )

    refund.refresh_from_db()
    assert refund.state == Refund.State.PROCESSING
    assert order_of(delivered).refund_status == Order.RefundStatus.NONE
    (call,) = gateway.fake.calls
    assert (call.method, call.path) == ("POST", "/v3/refund/domestic/refunds")
    assert call.json["out_refund_no"] == refund.refund_no
    assert call.json["amount"] == {"refund": 2000, "total": 2000, "currency": "CNY"}

    # then its REFUND.SUCCESS notification completes it, and a resent copy changes nothing
    notification = gateway.notification(
        fake_wechat.refund_resource(delivered, refund.refund_no), event="REFUND.SUCCESS"
    )
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert notification.post(client).status_code == 204

    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    order = order_of(delivered)
    assert order.refund_status == Order.RefundStatus.FULL
    assert order.refunded.amount == Decimal("20.00")
    assert order.events.filter(type="refunded").count() == 1
    assert len(gateway.fake.calls) == 1


def test_a_refund_to_the_wallet_never_calls_the_gateway(
    sku, gateway, shopper, client, staff, django_capture_on_commit_callbacks
):
    # given a signed-in buyer who paid with the gateway
    payment = factories.place_order(sku, gateway.code, user=shopper).payment
    with django_capture_on_commit_callbacks(execute=True):
        gateway.notify_paid(client, payment)

    # when staff refund part of it to the wallet
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_services.create_refund(
            order_of(payment), amount=Decimal("7.50"), destination="wallet", actor=staff
        )

    # then
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert gateway.calls() == []
    entry = WalletEntry.objects.get(wallet__user=shopper)
    assert (entry.kind, entry.reference, entry.amount.amount) == ("refund", refund.refund_no, Decimal("7.50"))
    shopper.wallet.refresh_from_db()
    assert shopper.wallet.balance.amount == Decimal("7.50")
    assert order_of(payment).refund_status == Order.RefundStatus.PARTLY


def test_a_partial_refund_then_the_rest(delivered, gateway, staff, django_capture_on_commit_callbacks):
    order = order_of(delivered)
    refunds = []
    for amount, status in ((Decimal("5.00"), Order.RefundStatus.PARTLY), (Decimal("15.00"), Order.RefundStatus.FULL)):
        gateway.answer_refunds(delivered)
        with django_capture_on_commit_callbacks(execute=True):
            refund = order_services.create_refund(order, amount=amount, destination="original", actor=staff)
        refund.refresh_from_db()
        assert refund.state == Refund.State.SUCCEEDED
        assert Order.objects.get(pk=order.pk).refund_status == status
        refunds.append(refund)

    assert refunds[0].refund_no != refunds[1].refund_no
    if gateway.code == "alipay":
        sent = [(biz["out_request_no"], biz["refund_amount"]) for _, biz in gateway.calls()]
        assert sent == [(refunds[0].refund_no, "5.00"), (refunds[1].refund_no, "15.00")]
    else:
        sent = [(call.json["out_refund_no"], call.json["amount"]["refund"]) for call in gateway.fake.calls]
        assert sent == [(refunds[0].refund_no, 500), (refunds[1].refund_no, 1500)]
    assert Order.objects.get(pk=order.pk).refunded.amount == Decimal("20.00")
    assert services.refundable_amount(delivered) == 0


# Races (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.usefixtures("transactional_db")
@MANY_CONNECTIONS
def test_fifty_copies_of_one_notification_at_once_confirm_and_deliver_once(gateway, mailoutbox):
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 5)
    payment = factories.place_order(sku, gateway.code).payment
    post = gateway.paid_notice(payment)

    # when
    responses = run_together([lambda: post(Client())] * 50)

    # then
    assert [(response.status_code, response.content) for response in responses] == [gateway.accepted] * 50
    results = Counter(PaymentNotification.objects.values_list("result", flat=True))
    assert results == {PaymentNotification.Result.CONFIRMED: 1, PaymentNotification.Result.DUPLICATE: 49}
    order = order_of(payment)
    assert order.status == Order.Status.DELIVERED
    events = Counter(OrderEvent.objects.filter(order=order).values_list("type", flat=True))
    assert events == {
        "placed": 1,
        "paid": 1,
        "delivered": 1,
        "email_due": 1,
        "email_claimed": 1,
        "email_sent": 1,
    }
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 2
    assert len(mailoutbox) == 1
