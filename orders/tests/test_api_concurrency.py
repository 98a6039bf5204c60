"""Races through /api/v1/orders/ on PostgreSQL, with real threads and real commits: the API never sells
a code twice, never takes a wallet below zero, and one caller's number is one order however often it
is posted at once."""

from collections import Counter
from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.api_keys import create_api_key
from accounts.models import WalletEntry
from accounts.services import credit_wallet
from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.api import SignedApi
from kamen.testing.threads import run_together
from orders.models import Order
from payments.models import Payment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def reseller_with(balance: str, n: int = 0):
    user = factories.UserFactory(email=f"reseller{n}@example.com")
    credit_wallet(user, Money(balance, "CNY"), actor=None, note="test")
    return user


def key_of(user):
    made = create_api_key(user, name="race")
    return made.key, made.secret


def ordering(key, secret: str, sku, client_order_no: str):
    """One POST from its own thread, with its own test client; the key and secret may be shared."""

    def post():
        answer = SignedApi(key, secret).post(
            "/api/v1/orders/", {"sku": sku.pk, "quantity": 1, "client_order_no": client_order_no}
        )
        return answer.status_code, answer.json()

    return post


def balance_of(user) -> Decimal:
    user.wallet.refresh_from_db()
    return user.wallet.balance.amount


def codes_by_status(sku) -> Counter:
    return Counter(CardCode.objects.filter(sku=sku).values_list("status", flat=True))


def test_eight_resellers_race_for_five_codes_and_each_code_is_sold_once():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 5)
    resellers = [reseller_with("100.00", n) for n in range(8)]
    keys = [key_of(user) for user in resellers]

    # when
    outcomes = run_together([ordering(key, secret, sku, f"RACE-{n}") for n, (key, secret) in enumerate(keys)])

    # then
    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)], outcomes
    statuses = Counter(status for status, _ in outcomes)
    assert statuses == {201: 5, 409: 3}, outcomes
    assert {body["error"]["code"] for status, body in outcomes if status == 409} == {"OUT_OF_STOCK"}
    placed = {body["number"] for status, body in outcomes if status == 201}
    assert all(body["status"] == "delivered" for status, body in outcomes if status == 201)
    assert codes_by_status(sku) == {CardCode.Status.SOLD: 5}
    sold = CardCode.objects.filter(sku=sku).values_list("order__number", flat=True)
    assert Counter(sold) == {number: 1 for number in placed}
    # Winners paid ¥10 once each; the three turned away paid nothing and left no order behind.
    winners = set(Order.objects.filter(number__in=placed).values_list("user", flat=True))
    for user in resellers:
        assert balance_of(user) == (Decimal("90.00") if user.pk in winners else Decimal("100.00"))
    assert Order.objects.count() == 5
    assert WalletEntry.objects.filter(kind=WalletEntry.Kind.PAYMENT).count() == 5


def test_one_reseller_with_money_for_three_orders_gets_three_of_six():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 20)
    reseller = reseller_with("30.00")
    key, secret = key_of(reseller)

    # when
    outcomes = run_together([ordering(key, secret, sku, f"POOR-{n}") for n in range(6)])

    # then
    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)], outcomes
    statuses = Counter(status for status, _ in outcomes)
    assert statuses == {201: 3, 402: 3}, outcomes
    assert {body["error"]["code"] for status, body in outcomes if status == 402} == {"INSUFFICIENT_BALANCE"}
    assert balance_of(reseller) == Decimal("0.00")
    debits = WalletEntry.objects.filter(wallet__user=reseller, kind=WalletEntry.Kind.PAYMENT)
    assert sorted(entry.amount.amount for entry in debits) == [Decimal("-10.00")] * 3
    # A refused order rolled back whole: no order, payment or held code is left of it.
    placed = {body["number"] for status, body in outcomes if status == 201}
    assert set(Order.objects.values_list("number", flat=True)) == placed
    assert Payment.objects.count() == 3
    assert codes_by_status(sku) == {CardCode.Status.SOLD: 3, CardCode.Status.AVAILABLE: 17}


def test_one_client_order_no_posted_at_once_is_one_order_and_one_debit():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 10)
    reseller = reseller_with("100.00")
    key, secret = key_of(reseller)

    # when
    outcomes = run_together([ordering(key, secret, sku, "SAME-1") for _ in range(6)])

    # then
    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)], outcomes
    statuses = Counter(status for status, _ in outcomes)
    assert statuses[201] == 1 and statuses[200] == 5, outcomes
    [number] = {body["number"] for _, body in outcomes}
    assert Order.objects.get().number == number
    assert balance_of(reseller) == Decimal("90.00")
    assert WalletEntry.objects.filter(wallet__user=reseller, kind=WalletEntry.Kind.PAYMENT).count() == 1
    assert codes_by_status(sku) == {CardCode.Status.SOLD: 1, CardCode.Status.AVAILABLE: 9}
