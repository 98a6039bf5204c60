"""Points (积分): earned on delivered orders, taken back in proportion by refunds without going below
zero, a daily check-in with a streak bonus, and the points mall's rewards — coupon, wallet credit and
goods delivered like any order — within their stock and per-member limits, also under concurrency."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from djmoney.money import Money

from accounts import points
from accounts.models import MemberLevel, PointsAccount, PointsEntry, Wallet, WalletEntry
from kamen.testing import factories
from kamen.testing.threads import run_together
from orders import services as order_services
from orders.models import CouponGrant, Order, PointsRedemption, PointsReward
from orders.services import points_mall

pytestmark = pytest.mark.usefixtures("english")


def balance(user) -> int:
    account = PointsAccount.objects.filter(user=user).first()
    return account.balance if account else 0


@pytest.fixture
def refund_order(staff, django_capture_on_commit_callbacks):
    def make(order, amount):
        with django_capture_on_commit_callbacks(execute=True):
            return order_services.create_refund(order, amount=Decimal(amount), destination="wallet", actor=staff)

    return make


def test_a_delivered_order_earns_a_point_per_yuan_times_the_level_multiplier(sku, shopper, paid_order):
    gold = MemberLevel.objects.create(name="黄金", rank=20, points_multiplier=Decimal("1.5"))

    paid_order(sku, quantity=2, user=shopper, deliver=False)  # paid, not delivered yet: nothing
    assert balance(shopper) == 0
    paid_order(sku, quantity=2, user=shopper)  # ¥20.00
    shopper.level = gold
    shopper.save()
    order = paid_order(sku, quantity=1, user=shopper)  # ¥10.00 × 1.5

    assert balance(shopper) == 35
    entry = PointsEntry.objects.get(reference=order.number)
    assert (entry.kind, entry.points, entry.balance_after) == (PointsEntry.Kind.EARNED, 15, 35)


def test_a_delivery_run_twice_earns_once(sku, shopper, paid_order):
    order = paid_order(sku, quantity=2, user=shopper)

    order_services.deliver_order(order.pk)
    points.award_for_order(shopper, order.total, reference=order.number)

    assert balance(shopper) == 20 and PointsEntry.objects.count() == 1


def test_refunds_take_points_back_in_proportion_and_never_below_zero(sku, shopper, paid_order, refund_order):
    order = paid_order(sku, quantity=3, user=shopper)  # ¥30.00: 30 points

    refund_order(order, "10.00")
    assert balance(shopper) == 20
    points.spend_points(shopper, 15, reference="spent", note="mall")
    refund_order(order, "20.00")

    assert balance(shopper) == 0  # 20 were due back, only 5 were left
    reversed_ = PointsEntry.objects.filter(kind=PointsEntry.Kind.REVERSED).order_by("id")
    assert list(reversed_.values_list("points", flat=True)) == [-10, -5]


@pytest.mark.parametrize(
    ("days", "expected"),
    [(1, [5]), (3, [5, 6, 7]), (9, [5, 6, 7, 8, 9, 10, 11, 11, 11])],
)
def test_check_in_once_a_day_with_a_streak_bonus_capped(shopper, days, expected):
    start = date(2026, 12, 1)

    earned = [points.check_in(shopper, today=start + timedelta(days=n)).entry.points for n in range(days)]

    assert earned == expected
    with pytest.raises(points.PointsRefused, match="checked in today already"):
        points.check_in(shopper, today=start + timedelta(days=days - 1))


def test_a_missed_day_starts_the_streak_again(shopper):
    points.check_in(shopper, today=date(2026, 12, 1))
    points.check_in(shopper, today=date(2026, 12, 2))

    change = points.check_in(shopper, today=date(2026, 12, 4))

    assert change.account.streak == 1 and change.entry.points == 5


def test_the_points_page_checks_in_and_shows_the_ledger(client, shopper):
    client.force_login(shopper)

    client.post(reverse("orders:check_in"))
    page = client.get(reverse("orders:points")).content.decode()

    assert balance(shopper) == 5
    assert "Daily check-in" in page and "+5" in page and "Checked in · 1 day in a row" in page


# ---------------------------------------------------------------- the points mall


def give(user, amount: int) -> None:
    points.give_points(user, amount, reference=f"test-{amount}")


def test_each_kind_of_reward_gives_what_it_says(sku, shopper, django_capture_on_commit_callbacks):
    coupon = factories.CouponFactory(name="无门槛2元", min_spend=0)
    rewards = {
        "coupon": PointsReward.objects.create(name="2元券", kind="coupon", points=100, coupon=coupon),
        "credit": PointsReward.objects.create(name="1元余额", kind="credit", points=50, credit=Money("1.00", "CNY")),
        "goods": PointsReward.objects.create(name="Q币", kind="goods", points=300, sku=sku, stock=3),
    }
    give(shopper, 500)

    with django_capture_on_commit_callbacks(execute=True):
        got = {kind: points_mall.redeem(reward.pk, user=shopper) for kind, reward in rewards.items()}

    assert balance(shopper) == 50
    assert CouponGrant.objects.get(user=shopper, coupon=coupon).reason == CouponGrant.Reason.POINTS
    assert Wallet.objects.get(user=shopper).balance == Money("1.00", "CNY")
    assert WalletEntry.objects.get().kind == WalletEntry.Kind.POINTS
    order = Order.objects.get(pk=got["goods"].order_id)
    assert order.status == Order.Status.DELIVERED and order.total == Money("0.00", "CNY")
    assert order.price_adjustments == [("Points mall: Q币", Money("10.00", "CNY"))]
    assert order.codes.count() == 1
    assert PointsReward.objects.get(pk=rewards["goods"].pk).left == 2


def test_a_redemption_refused_writes_nothing(sku, shopper):
    reward = PointsReward.objects.create(name="1元余额", kind="credit", points=50, credit=Money("1.00", "CNY"))
    give(shopper, 40)

    with pytest.raises(points_mall.RedemptionRefused, match="not enough"):
        points_mall.redeem(reward.pk, user=shopper)

    assert balance(shopper) == 40 and not PointsRedemption.objects.exists()
    assert PointsReward.objects.get(pk=reward.pk).redeemed_count == 0


@pytest.mark.postgres
@pytest.mark.usefixtures("transactional_db")
def test_ten_redemptions_at_once_by_a_member_with_points_for_three_take_three():
    member = factories.UserFactory()
    reward = PointsReward.objects.create(
        name="1元余额", kind="credit", points=100, credit=Money("1.00", "CNY"), per_member=None
    )
    give(member, 350)

    outcomes = run_together([lambda: points_mall.redeem(reward.pk, user=member) for _ in range(10)])

    assert sum(isinstance(outcome, PointsRedemption) for outcome in outcomes) == 3
    assert all(isinstance(o, points_mall.RedemptionRefused) for o in outcomes if not isinstance(o, PointsRedemption))
    assert balance(member) == 50
    assert Wallet.objects.get(user=member).balance == Money("3.00", "CNY")


@pytest.mark.postgres
@pytest.mark.usefixtures("transactional_db")
def test_members_racing_for_a_reward_never_take_more_than_its_stock_or_their_limit():
    reward = PointsReward.objects.create(
        name="1元余额", kind="credit", points=10, credit=Money("1.00", "CNY"), stock=5, per_member=1
    )
    members = [factories.UserFactory() for _ in range(8)]
    for member in members:
        give(member, 100)

    calls = [lambda m=m: points_mall.redeem(reward.pk, user=m) for m in members for _ in range(2)]
    outcomes = run_together(calls)

    assert sum(isinstance(outcome, PointsRedemption) for outcome in outcomes) == 5
    assert PointsReward.objects.get(pk=reward.pk).redeemed_count == 5
    per_member = [PointsRedemption.objects.filter(user=m).count() for m in members]
    assert max(per_member) == 1 and sum(per_member) == 5
