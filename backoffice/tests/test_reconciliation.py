"""The daily reconciliation: a report that balances, and a planted one-fen difference that alerts."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import F
from django.urls import reverse
from djmoney.money import Money

from accounts import services as wallet_services
from accounts.models import AlertChannel, StaffAlert, Wallet
from backoffice import services
from backoffice.models import Reconciliation
from orders import services as order_services
from orders.models import Order

from .days import DAY, at, member


@pytest.fixture
def day_of_money(db, buy, staff, django_capture_on_commit_callbacks):
    """On DAY: two paid orders, a refund of ¥5.00 to the wallet, a staff credit of ¥3.00."""
    a = member("a@example.com", DAY)
    first = buy(a, DAY, quantity=2)
    buy(a, DAY, quantity=1)
    with at(DAY, 18), django_capture_on_commit_callbacks(execute=True):
        order_services.create_refund(first, amount=Decimal("5.00"), destination="wallet", actor=staff)
        wallet_services.credit_wallet(a, Money("3.00", "CNY"), actor=staff, note="补偿")
    return a


@pytest.fixture
def alerts_channel(db):
    return AlertChannel.objects.create(
        name="ops", kind=AlertChannel.Kind.EMAIL, target="ops@example.com", events=["reconciliation"]
    )


def checks_by_name(report: Reconciliation) -> dict[str, dict]:
    return {check["name"]: check for check in report.checks}


def test_a_day_whose_money_adds_up_balances(day_of_money, alerts_channel):
    report = services.reconcile_day(DAY)

    assert report.balanced and report.differences == []
    checks = checks_by_name(report)
    assert checks["Payments for orders = the totals of the orders they paid"]["left"] == "30.00"
    assert checks["Refunds to the wallet = refund entries in wallets"]["right"] == "5.00"
    assert checks["Wallet balances = the sum of the wallet ledger"]["left"] == "8.00"
    assert not StaffAlert.objects.exists()


def test_one_fen_more_in_a_wallet_than_its_ledger_says_alerts_staff_once(day_of_money, alerts_channel, client, staff):
    Wallet.objects.filter(user=day_of_money).update(balance=F("balance") + Decimal("0.01"))

    report = services.reconcile_day(DAY)
    services.reconcile_day(DAY)  # the hourly run again: the same report, no second alert

    assert not report.balanced
    assert [check["name"] for check in report.differences] == ["Wallet balances = the sum of the wallet ledger"]
    assert report.differences[0]["difference"] == "0.01"
    alert = StaffAlert.objects.get()
    assert alert.event == "reconciliation" and "¥8.01" in alert.text and "¥8.00" in alert.text
    client.force_login(staff)
    with at(DAY + datetime.timedelta(days=1), 9):
        page = client.get(reverse("admin:index"))
    assert page.context["dashboard"]["reconciliation"] == report
    assert 'class="kd-bad"' in page.content.decode()


def test_an_order_total_that_differs_from_its_payment_by_a_fen_is_found(day_of_money):
    order = Order.objects.filter(quantity=1).get()
    Order.objects.filter(pk=order.pk).update(total=Money("9.99", "CNY"))

    report = services.reconcile_day(DAY)

    assert [check["name"] for check in report.differences] == [
        "Payments for orders = the totals of the orders they paid"
    ]
    assert report.differences[0]["difference"] == "0.01"


def test_payments_of_another_day_are_not_that_days(day_of_money):
    report = services.reconcile_day(DAY + datetime.timedelta(days=1))

    assert report.balanced
    assert checks_by_name(report)["Payments for orders = the totals of the orders they paid"]["left"] == "0.00"
