"""Payment races on PostgreSQL with real threads: confirmed at most once, a wallet never overdrawn."""

from collections import Counter
from urllib.parse import urlencode

import pytest
from django.db.models import Sum
from django.test import Client
from djmoney.money import Money

from accounts.models import Wallet, WalletEntry
from accounts.services import InsufficientBalance, credit_wallet
from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.factories import order_of
from kamen.testing.threads import run_together
from orders.models import Order, OrderEvent
from payments.models import Payment, PaymentNotification
from payments.providers import sandbox
from payments.services import Confirmation, pay_with_balance

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("transactional_db")]

NOTIFY_URL = "/payments/sandbox/notify/"


def test_ten_copies_of_one_notification_at_once_confirm_and_deliver_once(mailoutbox):
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 5)
    payment = factories.place_order(sku, quantity=2).payment
    body = urlencode(sandbox.build_notification(payment))

    def post():
        return Client().post(NOTIFY_URL, data=body, content_type="application/x-www-form-urlencoded")

    # when
    responses = run_together([post] * 10)

    # then
    assert [(response.status_code, response.content) for response in responses] == [(200, b"success")] * 10
    results = Counter(PaymentNotification.objects.values_list("result", flat=True))
    assert results == {PaymentNotification.Result.CONFIRMED: 1, PaymentNotification.Result.DUPLICATE: 9}
    assert PaymentNotification.objects.filter(payment=payment, verified=True).count() == 10
    payment.refresh_from_db()
    assert payment.state == Payment.State.CONFIRMED
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


def assert_ledger_reconciles(wallet: Wallet):
    entries = WalletEntry.objects.filter(wallet=wallet, amount_currency="CNY")
    assert entries.aggregate(total=Sum("amount"))["total"] == wallet.balance.amount
    assert entries.order_by("-id").first().balance_after == wallet.balance
    assert not entries.filter(balance_after__lt=Money("0.00", "CNY")).exists()


def test_concurrent_wallet_payments_never_overdraw():
    # given ¥25.00 and six unpaid ¥10.00 orders
    buyer = factories.UserFactory()
    credit_wallet(buyer, Money("25.00", "CNY"), actor=None, note="top-up")
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 6)
    payments = [factories.place_order(sku, "balance", quantity=1, user=buyer).payment for _ in range(6)]

    # when all six are paid from the wallet at once
    outcomes = run_together([lambda payment=payment: pay_with_balance(payment, user=buyer) for payment in payments])

    # then
    paid = [outcome for outcome in outcomes if isinstance(outcome, Confirmation)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, Confirmation)]
    assert len(paid) == 2 and all(confirmation.newly_confirmed for confirmation in paid)
    assert len(refused) == 4 and all(isinstance(error, InsufficientBalance) for error in refused)
    wallet = Wallet.objects.get(user=buyer)
    assert wallet.balance == Money("5.00", "CNY")
    assert_ledger_reconciles(wallet)
    assert WalletEntry.objects.filter(wallet=wallet, kind=WalletEntry.Kind.PAYMENT).count() == 2
    assert Payment.objects.filter(state=Payment.State.CONFIRMED).count() == 2
    assert Order.objects.filter(status=Order.Status.DELIVERED).count() == 2
    assert Order.objects.filter(status=Order.Status.PENDING_PAYMENT).count() == 4


def test_paying_one_order_twice_from_the_wallet_at_once_debits_once():
    # given
    buyer = factories.UserFactory()
    credit_wallet(buyer, Money("25.00", "CNY"), actor=None, note="top-up")
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 1)
    payment = factories.place_order(sku, "balance", quantity=1, user=buyer).payment

    # when a double click sends the same wallet payment twice
    outcomes = run_together([lambda: pay_with_balance(payment, user=buyer)] * 2)

    # then
    assert sorted(outcome.newly_confirmed for outcome in outcomes) == [False, True]
    wallet = Wallet.objects.get(user=buyer)
    assert wallet.balance == Money("15.00", "CNY")
    assert_ledger_reconciles(wallet)
    assert WalletEntry.objects.filter(wallet=wallet, kind=WalletEntry.Kind.PAYMENT).count() == 1
    assert order_of(payment).status == Order.Status.DELIVERED
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 1
