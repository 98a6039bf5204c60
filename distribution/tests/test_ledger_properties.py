"""The commission ledger under random sequences of purchases, refunds, settlements and withdrawals:
after every step each member's balances are the sums of their entries, none that must not go below
zero does, no one earns from more than three levels below, and no order pays out more than it took."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distribution import services
from distribution.models import Commission, Referrer, Withdrawal
from kamen.money import round_fen
from kamen.testing import factories
from orders import services as order_services
from orders.models import Order

from .conftest import balances, ledger_sums

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("english")]

MEMBERS = 6
PRICES = ("9.99", "10.05", "33.33", "120.00")

buy = st.tuples(st.just("buy"), st.integers(0, MEMBERS - 1), st.integers(1, 3), st.sampled_from(range(len(PRICES))))
refund = st.tuples(st.just("refund"), st.integers(0, 20), st.sampled_from(["0.25", "0.5", "1"]))
settle = st.tuples(st.just("settle"))
withdraw = st.tuples(
    st.just("withdraw"),
    st.integers(0, MEMBERS - 1),
    st.decimals("0.50", "30.00", places=2),
    st.sampled_from(["wallet", "alipay"]),
)
decline = st.tuples(st.just("decline"), st.integers(0, 10))
steps = st.lists(st.one_of(buy, buy, refund, settle, withdraw, decline), min_size=1, max_size=12)


@pytest.fixture
def world(chain, staff, settings):
    settings.WITHDRAWAL_MIN = Decimal("1.00")
    members = chain(MEMBERS)
    skus = []
    for price in PRICES:
        sku = factories.SkuFactory(price=price)
        factories.stock(sku, 200)
        skus.append(sku)
    return members, skus


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_the_ledger_holds_after_every_step(world, staff, paid_order, django_capture_on_commit_callbacks, sequence):
    members, skus = world
    try:
        with transaction.atomic():
            clock = timezone.now()
            for step in sequence:
                clock = _apply(step, members, skus, staff, paid_order, django_capture_on_commit_callbacks, clock)
                _check(members)
            raise _Rollback
    except _Rollback:
        pass


class _Rollback(Exception):
    """Each example starts from the same tree with nothing bought."""


def _apply(step, members, skus, staff, paid_order, capture, clock):
    kind = step[0]
    if kind == "buy":
        _, who, quantity, price = step
        paid_order(skus[price], quantity=quantity, user=members[who])
    elif kind == "refund":
        _, index, share = step
        orders = list(Order.objects.order_by("pk"))
        if orders:
            order = orders[index % len(orders)]
            left = order.total.amount - order.refunded.amount
            amount = min(round_fen(order.total.amount * Decimal(share)), left)
            if amount > 0:
                with capture(execute=True):
                    order_services.create_refund(order, amount=amount, destination="wallet", actor=staff)
    elif kind == "settle":
        clock += timedelta(days=8)
        services.settle_due_commissions(now=clock)
    elif kind == "withdraw":
        _, who, amount, method = step
        before = balances(members[who])
        try:
            services.request_withdrawal(
                members[who], amount=amount, method=method, account="13800138000", account_name="张三"
            )
        except services.WithdrawalRefused:
            assert balances(members[who]) == before
    elif kind == "decline":
        waiting = list(Withdrawal.objects.filter(state="requested").order_by("pk"))
        if waiting:
            services.decline_withdrawal(waiting[step[1] % len(waiting)], actor=staff, reason="测试")
    return clock


def _check(members):
    for member in members:
        cached = balances(member)
        assert cached == ledger_sums(member)
        assert cached["pending"] >= 0 and cached["held"] >= 0 and cached["withdrawn"] >= 0
    uplines = {r.user_id: r.upline() for r in Referrer.objects.all()}
    for commission in Commission.objects.all():
        if commission.kind == Commission.Kind.SALE:
            assert commission.tier in (1, 2, 3)
            assert uplines[commission.buyer_id][commission.tier - 1] == commission.earner_id
        else:
            assert commission.tier is None and uplines[commission.buyer_id][0] == commission.earner_id
        assert 0 <= commission.reversed.amount <= commission.amount.amount
    for order in Order.objects.filter(commissions__isnull=False).distinct():
        paid_out = order.commissions.aggregate(s=Sum("amount"))["s"]
        assert paid_out <= order.total.amount
    earned = Commission.objects.aggregate(s=Sum("amount"))["s"] or 0
    taken = Order.objects.filter(paid_at__isnull=False).aggregate(s=Sum("total"))["s"] or 0
    assert earned <= taken
