"""Three-level commissions: who earns what when a payment is confirmed, the rules and level terms that
set the rates, reversal by refunds, settlement after the hold, and staff review of what looks abusive."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import MemberLevel
from distribution import services
from distribution.models import Commission, CommissionRule, LedgerEntry, LevelTerms, Referrer, Sighting
from kamen.money import cny
from kamen.testing import factories
from orders import services as order_services
from orders.models import Order

from .conftest import balances, ledger_sums

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("english")]


@pytest.fixture
def sku50(db):
    sku = factories.SkuFactory(price="50.00")
    factories.stock(sku, 20)
    return sku


@pytest.fixture
def refund(staff, django_capture_on_commit_callbacks):
    def make(order, amount):
        with django_capture_on_commit_callbacks(execute=True):
            return order_services.create_refund(order, amount=Decimal(amount), destination="wallet", actor=staff)

    return make


def sales(order):
    return {c.tier: (c.earner.email, c.amount.amount) for c in order.commissions.filter(kind="sale")}


def test_the_fifth_of_a_chain_buys_and_exactly_the_three_nearest_above_earn(chain, sku50, paid_order):
    m1, m2, m3, m4, m5 = chain(5)

    order = paid_order(sku50, quantity=2, user=m5)  # ¥100.00

    assert sales(order) == {
        1: ("m4@example.com", Decimal("10.00")),
        2: ("m3@example.com", Decimal("5.00")),
        3: ("m2@example.com", Decimal("3.00")),
    }
    assert not Commission.objects.filter(earner=m1).exists()
    invite = order.commissions.get(kind="invite")
    assert (invite.earner, invite.amount.amount, invite.tier) == (m4, Decimal("2.00"), None)
    assert balances(m4)["pending"] == Decimal("12.00") and balances(m4)["available"] == 0
    for member in (m1, m2, m3, m4, m5):
        assert balances(member) == ledger_sums(member)


def test_a_confirmation_sent_again_writes_nothing_more(chain, sku50, paid_order, pay):
    _, _, buyer = chain(3)
    placed = factories.place_order(sku50, quantity=1, user=buyer)
    pay(placed.payment)

    pay(placed.payment)
    with pytest.raises(IntegrityError), transaction.atomic():
        # Called again by hand, past the order's one move to paid: the database refuses a second set.
        services.accrue_commissions(Order.objects.get(pk=placed.order.pk), payment=placed.payment)

    assert Commission.objects.count() == 3 and LedgerEntry.objects.count() == 3


def test_the_database_refuses_a_fourth_tier_and_a_second_commission_per_tier(chain, sku50, paid_order):
    *_, buyer = chain(4)
    order = paid_order(sku50, quantity=1, user=buyer)
    one = order.commissions.get(tier=1)

    for tier in (4, 0):
        with pytest.raises(IntegrityError), transaction.atomic():
            Commission.objects.create(
                earner=one.earner,
                buyer=buyer,
                order=order,
                kind="sale",
                tier=tier,
                rate=1,
                base=one.base,
                amount=cny("0.50"),
                settle_after=timezone.now(),
            )
    with pytest.raises(IntegrityError), transaction.atomic():
        Commission.objects.create(
            earner=one.earner,
            buyer=buyer,
            order=order,
            kind="sale",
            tier=1,
            rate=1,
            base=one.base,
            amount=cny("0.50"),
            settle_after=timezone.now(),
        )
    assert not hasattr(Referrer, "upline_4")


def test_amounts_round_half_up_to_the_fen_and_never_exceed_what_was_paid(chain, paid_order, settings):
    settings.INVITE_REWARD = Decimal("0")
    m1, m2, m3, buyer = chain(4)
    sku = factories.SkuFactory(price="10.05")
    factories.stock(sku, 5)

    order = paid_order(sku, quantity=1, user=buyer)
    assert sales(order)[1][1] == Decimal("1.01")  # 10% of 10.05 = 1.005

    CommissionRule.objects.create(scope="all", rate_1=60, rate_2=50, rate_3=40)
    order = paid_order(sku, quantity=1, user=buyer)
    assert {tier: amount for tier, (_, amount) in sales(order).items()} == {1: Decimal("6.03"), 2: Decimal("4.02")}
    assert sum(c.amount.amount for c in order.commissions.all()) <= order.total.amount


def test_the_nearest_rule_sets_the_rates_and_zero_excludes(chain, paid_order, settings):
    settings.INVITE_REWARD = Decimal("0")
    _, inviter, buyer = chain(3)
    parent = factories.CategoryFactory()
    child = factories.CategoryFactory(parent=parent)
    product = factories.ProductFactory(category=child)
    sku = factories.SkuFactory(product=product, price="100.00")
    factories.stock(sku, 5)
    CommissionRule.objects.create(scope="all", rate_1=20, rate_2=10, rate_3=5)
    CommissionRule.objects.create(scope="category", category=parent, rate_1=8, rate_2=4, rate_3=2)

    assert services.tier_rates(product) == (8, 4, 2)
    CommissionRule.objects.create(scope="category", category=child, rate_1=7, rate_2=3, rate_3=1)
    assert services.tier_rates(product) == (7, 3, 1)
    CommissionRule.objects.create(scope="product", product=product, rate_1=0, rate_2=0, rate_3=0)

    order = paid_order(sku, quantity=1, user=buyer)
    assert not order.commissions.exists()
    assert balances(inviter)["pending"] == 0


def test_level_terms_raise_rates_and_choose_who_earns(chain, sku50, paid_order, settings):
    settings.INVITE_REWARD = Decimal("0")
    top, middle, inviter, buyer = chain(4)
    agent = MemberLevel.objects.create(name="代理", rank=30)
    plain = MemberLevel.objects.create(name="普通会员", rank=0)
    LevelTerms.objects.create(level=agent, rate_factor=Decimal("1.5"))
    LevelTerms.objects.create(level=plain, may_earn=False)
    inviter.level = agent
    inviter.save()
    top.level = agent
    top.save()

    order = paid_order(sku50, quantity=2, user=buyer)  # middle has no level: the lowest one's, who may not earn

    assert sales(order) == {1: ("m3@example.com", Decimal("15.00")), 3: ("m1@example.com", Decimal("4.50"))}


def test_guests_and_members_without_an_inviter_earn_no_one_anything(chain, sku50, paid_order, shopper):
    paid_order(sku50, quantity=1)
    paid_order(sku50, quantity=1, user=shopper)
    (alone,) = chain(1)
    paid_order(sku50, quantity=1, user=alone)

    assert not Commission.objects.exists() and not LedgerEntry.objects.exists()


def test_the_invite_reward_comes_with_the_first_paid_order_only(chain, sku50, paid_order):
    inviter, invitee = chain(2)

    paid_order(sku50, quantity=1, user=invitee)
    paid_order(sku50, quantity=1, user=invitee)

    assert Commission.objects.filter(kind="invite").count() == 1
    assert balances(inviter)["pending"] == Decimal("12.00")  # 5.00 + 5.00 + 2.00


def test_a_full_refund_before_settlement_takes_everything_back(chain, sku50, paid_order, refund):
    m1, m2, buyer = chain(3)
    order = paid_order(sku50, quantity=2, user=buyer)

    refund(order, "100.00")

    assert set(order.commissions.values_list("state", flat=True)) == {"reversed"}
    for member in (m1, m2):
        assert balances(member) == {"pending": 0, "available": 0, "held": 0, "withdrawn": 0}
        assert balances(member) == ledger_sums(member)


def test_a_partial_refund_takes_back_its_share(chain, sku50, paid_order, refund, settings):
    settings.INVITE_REWARD = Decimal("0")
    m1, m2, buyer = chain(3)
    order = paid_order(sku50, quantity=2, user=buyer)  # m2 10.00, m1 5.00

    refund(order, "30.00")  # 30 %
    assert balances(m2)["pending"] == Decimal("7.00") and balances(m1)["pending"] == Decimal("3.50")
    refund(order, "70.00")  # the rest: all that is left, whatever the rounding
    assert balances(m2)["pending"] == 0 and balances(m1)["pending"] == 0
    assert set(order.commissions.values_list("state", flat=True)) == {"reversed"}


def test_settlement_waits_for_the_hold_and_the_delivery(chain, sku50, paid_order):
    inviter, buyer = chain(2)
    delivered = paid_order(sku50, quantity=1, user=buyer)  # 5.00 + the 2.00 reward
    undelivered = paid_order(sku50, quantity=1, user=buyer, deliver=False)  # 5.00

    assert services.settle_due_commissions() == 0
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert services.settle_due_commissions() == 2

    assert balances(inviter) == {"pending": Decimal("5.00"), "available": Decimal("7.00"), "held": 0, "withdrawn": 0}
    assert balances(inviter) == ledger_sums(inviter)
    assert set(delivered.commissions.values_list("state", flat=True)) == {"settled"}
    assert undelivered.commissions.get().state == "pending"
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert services.settle_due_commissions() == 0  # settled once


def test_an_open_refund_request_holds_settlement(chain, sku50, paid_order):
    inviter, buyer = chain(2)
    order = paid_order(sku50, quantity=1, user=buyer)
    order_services.request_refund(order, user=buyer, reason="不能用")

    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert services.settle_due_commissions() == 0


def test_a_refund_after_settlement_reverses_from_available_even_below_zero(chain, sku50, paid_order, refund, settings):
    settings.INVITE_REWARD = Decimal("0")
    settings.WITHDRAWAL_MIN = Decimal("1.00")
    inviter, buyer = chain(2)
    order = paid_order(sku50, quantity=2, user=buyer)  # 10.00
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        services.settle_due_commissions()
    services.request_withdrawal(inviter, amount=Decimal("10.00"), method="wallet")

    refund(order, "50.00")

    assert balances(inviter) == {"pending": 0, "available": Decimal("-5.00"), "held": 0, "withdrawn": Decimal("10.00")}
    assert LedgerEntry.objects.filter(member=inviter, kind="reversed_available").get().amount.amount == 5


def test_settlement_of_many_earners_in_batches(chain, sku50, paid_order, settings):
    settings.INVITE_REWARD = Decimal("0")
    members = chain(4)
    for buyer in members[1:]:
        paid_order(sku50, quantity=1, user=buyer)

    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert services.settle_due_commissions(batch=2) == 6

    for member in members:
        assert balances(member)["pending"] == 0
        assert balances(member) == ledger_sums(member)


def test_an_invitee_on_the_inviters_device_is_held_for_review(db, sku50, paid_order, staff):
    inviter = factories.UserFactory(email="boss@example.com")
    services.record_sighting(inviter, device="dev-1", ip="10.0.0.1")
    invitee = factories.UserFactory(email="alt@example.com")
    services.join(invitee, invite_code=services.referrer_for(inviter).code, device="dev-1", ip="10.0.0.9")

    order = paid_order(sku50, quantity=1, user=invitee)

    assert Referrer.objects.get(user=invitee).flag
    assert set(order.commissions.values_list("state", flat=True)) == {"review"}
    assert not invitee.coupon_grants.exists()  # no new-member coupon on the inviter's own device
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert services.settle_due_commissions() == 0
    sale, reward = order.commissions.get(kind="sale"), order.commissions.get(kind="invite")
    services.approve_commission(sale, actor=staff)
    services.reject_commission(reward, actor=staff, note="刷单")
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert services.settle_due_commissions() == 1
    assert balances(inviter) == {"pending": 0, "available": Decimal("5.00"), "held": 0, "withdrawn": 0}
    with pytest.raises(services.ReviewRefused):
        services.approve_commission(reward, actor=staff)


def test_an_upline_member_buying_on_their_own_device_is_held_for_review(chain, sku50, paid_order):
    top, inviter, buyer = chain(3)
    services.record_sighting(top, device="boss-phone", ip=None)
    services.record_sighting(buyer, device="boss-phone", ip=None)

    order = paid_order(sku50, quantity=1, user=buyer)

    assert set(order.commissions.values_list("state", flat=True)) == {"review"}
    assert "device" in order.commissions.first().flag


def test_paying_with_an_upline_members_payment_account_is_held_for_review(chain, sku50, pay):
    inviter, buyer = chain(2)
    own = factories.place_order(sku50, quantity=1, user=inviter)
    from payments.services import confirm_payment

    def confirm(payment):
        return confirm_payment(
            payment.pk,
            amount=payment.amount.amount,
            gateway_trade_no=f"G{payment.pk}",
            provider="sandbox",
            payer="2088000000000042",
        )

    confirm(own.payment)
    placed = factories.place_order(sku50, quantity=1, user=buyer)
    confirm(placed.payment)

    assert set(placed.order.commissions.values_list("state", flat=True)) == {"review"}
    assert Sighting.objects.count() == 0
