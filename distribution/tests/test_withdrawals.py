"""Withdrawals (提现): held at once, never overdrawn, paid into the wallet or by an Alipay transfer sent
outside any lock, resolved by asking when the answer is unknown, returned when refused or declined."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Wallet, WalletEntry
from distribution import services
from distribution.models import Withdrawal, WithdrawalEvent
from kamen.testing import factories
from kamen.testing.fake_alipay import (
    TRANSFER,
    TRANSFER_ORDER_ID,
    TRANSFER_QUERY,
    biz_content,
    read_timeout,
    refusal,
    transfer_answer,
    transfer_query_answer,
)
from kamen.testing.threads import run_together
from payments import payouts

from .conftest import balances, ledger_sums

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("english")]


@pytest.fixture
def earner(chain, paid_order, settings):
    """A reseller with ¥30.00 available: a settled 10 % of a ¥300 purchase by their invitee."""
    settings.INVITE_REWARD = Decimal("0")
    inviter, buyer = chain(2)
    sku = factories.SkuFactory(price="150.00")
    factories.stock(sku, 4)
    paid_order(sku, quantity=2, user=buyer)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        services.settle_due_commissions()
    assert balances(inviter)["available"] == Decimal("30.00")
    return inviter


def to_alipay(member, amount="20.00"):
    return services.request_withdrawal(
        member, amount=Decimal(amount), method="alipay", account="13800138000", account_name="张三"
    )


def test_a_withdrawal_into_the_wallet_is_paid_at_once(earner):
    withdrawal = services.request_withdrawal(earner, amount=Decimal("12.50"), method="wallet")

    assert withdrawal.state == "paid" and withdrawal.fee.amount == 0
    assert balances(earner) == {"pending": 0, "available": Decimal("17.50"), "held": 0, "withdrawn": Decimal("12.50")}
    assert balances(earner) == ledger_sums(earner)
    assert Wallet.objects.get(user=earner).balance.amount == Decimal("12.50")
    assert WalletEntry.objects.get(reference=withdrawal.number).kind == "commission"


@pytest.mark.parametrize(
    ("amount", "method", "account", "name", "message"),
    [
        ("5.00", "wallet", "", "", "least"),
        ("30.01", "wallet", "", "", "available"),
        ("12.345", "wallet", "", "", "yuan and fen"),
        ("NaN", "wallet", "", "", "yuan and fen"),
        ("20.00", "bank", "", "", "where the money goes"),
        ("20.00", "alipay", "not-an-account", "张三", "mobile number"),
        ("20.00", "alipay", "13800138000", "", "real name"),
    ],
)
def test_a_bad_withdrawal_is_refused_and_changes_nothing(earner, amount, method, account, name, message):
    with pytest.raises(services.WithdrawalRefused, match=message):
        services.request_withdrawal(earner, amount=Decimal(amount), method=method, account=account, account_name=name)

    assert not Withdrawal.objects.exists()
    assert balances(earner)["available"] == Decimal("30.00")


@pytest.mark.django_db(transaction=True)
def test_two_withdrawals_at_once_never_overdraw(chain, settings):
    settings.INVITE_REWARD = Decimal("0")
    inviter, buyer = chain(2)
    sku = factories.SkuFactory(price="150.00")
    factories.stock(sku, 4)
    placed = factories.place_order(sku, quantity=1, user=buyer)
    factories.confirm(placed.payment)
    from orders.services import deliver_order

    deliver_order(placed.order.pk)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        services.settle_due_commissions()  # ¥15.00 available

    outcomes = run_together(
        [lambda: services.request_withdrawal(inviter, amount=Decimal("10.00"), method="wallet")] * 2
    )

    assert sum(isinstance(o, Withdrawal) for o in outcomes) == 1
    assert sum(isinstance(o, services.WithdrawalRefused) for o in outcomes) == 1
    assert balances(inviter) == {"pending": 0, "available": Decimal("5.00"), "held": 0, "withdrawn": Decimal("10.00")}


@pytest.mark.usefixtures("alipay_enabled")
def test_an_approved_withdrawal_is_transferred_to_alipay_less_the_fee(earner, staff, alipay_gateway, settings):
    settings.WITHDRAWAL_FEE_PERCENT = Decimal("1")
    withdrawal = to_alipay(earner)
    assert balances(earner)["held"] == Decimal("20.00")
    alipay_gateway(transfer_answer(withdrawal.number))

    done = services.approve_and_send(withdrawal, actor=staff)

    (call,) = alipay_gateway.calls
    assert biz_content(call)["out_biz_no"] == withdrawal.number
    assert biz_content(call)["trans_amount"] == "19.80"
    assert biz_content(call)["payee_info"]["identity"] == "13800138000"
    assert (done.state, done.reference, done.decided_by) == ("paid", TRANSFER_ORDER_ID, staff)
    assert balances(earner) == {"pending": 0, "available": Decimal("10.00"), "held": 0, "withdrawn": Decimal("20.00")}
    assert list(done.events.values_list("type", flat=True)) == ["requested", "sending", "paid"]


@pytest.mark.usefixtures("alipay_enabled")
def test_a_refused_transfer_returns_the_held_amount(earner, staff, alipay_gateway):
    withdrawal = to_alipay(earner)
    alipay_gateway(refusal("PAYEE_NOT_EXIST", "收款账号不存在"))

    done = services.approve_and_send(withdrawal, actor=staff)

    assert done.state == "failed" and "收款账号不存在" in done.message
    assert balances(earner) == {"pending": 0, "available": Decimal("30.00"), "held": 0, "withdrawn": 0}
    assert balances(earner) == ledger_sums(earner)


@pytest.mark.usefixtures("alipay_enabled")
def test_a_timed_out_transfer_is_asked_about_never_sent_again(earner, staff, alipay_gateway):
    withdrawal = to_alipay(earner)
    alipay_gateway(methods={TRANSFER: read_timeout()})

    sending = services.approve_and_send(withdrawal, actor=staff)
    assert sending.state == "sending" and balances(earner)["held"] == Decimal("20.00")
    assert WithdrawalEvent.objects.filter(withdrawal=withdrawal, type="unknown").exists()

    alipay_gateway(
        methods={
            TRANSFER_QUERY: [
                transfer_query_answer(withdrawal.number, "DEALING"),
                transfer_query_answer(withdrawal.number),
            ]
        }
    )
    assert services.sync_sending_withdrawal(sending).state == "sending"
    with pytest.raises(services.WithdrawalRefused):
        services.approve_and_send(sending, actor=staff)  # no second transfer for one withdrawal
    from distribution.tasks import sync_sending_withdrawals_task

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert sync_sending_withdrawals_task() == 1

    assert [call["method"] for call in alipay_gateway.calls] == [TRANSFER, TRANSFER_QUERY, TRANSFER_QUERY]
    assert Withdrawal.objects.get(pk=withdrawal.pk).state == "paid"
    assert balances(earner)["withdrawn"] == Decimal("20.00")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("alipay_enabled")
def test_the_transfer_is_sent_with_no_transaction_open(earner, staff, monkeypatch):
    seen = []

    class Watching(payouts.SandboxPayouts):
        def transfer(self, **details):
            seen.append(connection.in_atomic_block)
            return payouts.PayoutResult(payouts.PayoutState.SUCCEEDED, gateway_order_id="T1")

    monkeypatch.setattr("distribution.services.withdrawals.get_payout_gateway", Watching)

    services.approve_and_send(to_alipay(earner), actor=staff)

    assert seen == [False]


def test_staff_decline_or_mark_paid_by_hand(earner, staff):
    first, second = to_alipay(earner, "10.00"), to_alipay(earner, "10.00")

    services.decline_withdrawal(first, actor=staff, reason="账户信息有误")
    services.mark_paid_by_hand(second, actor=staff, reference="银行回单 0042")

    assert balances(earner) == {"pending": 0, "available": Decimal("20.00"), "held": 0, "withdrawn": Decimal("10.00")}
    with pytest.raises(services.WithdrawalRefused):
        services.decline_withdrawal(second, actor=staff, reason="again")
    with pytest.raises(services.WithdrawalRefused):
        services.mark_paid_by_hand(first, actor=staff, reference="x")
    assert balances(earner) == ledger_sums(earner)


def test_the_withdrawal_page_asks_and_shows_only_ones_own(client, earner):
    client.force_login(earner)

    response = client.post(reverse("distribution:withdrawals"), {"amount": "15", "method": "wallet"}, follow=True)
    assert "¥15.00 is in your wallet" in response.content.decode()
    refused = client.post(reverse("distribution:withdrawals"), {"amount": "99", "method": "wallet"})
    assert refused.status_code == 400 and "available to withdraw" in refused.content.decode()

    mine = Withdrawal.objects.get()
    assert client.get(reverse("distribution:withdrawal", args=[mine.number])).status_code == 200
    client.force_login(factories.UserFactory())
    assert client.get(reverse("distribution:withdrawal", args=[mine.number])).status_code == 404
