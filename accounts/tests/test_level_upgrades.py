"""Members move up a level once their paid orders reach it: exactly once, audited, and refunds count back."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from djmoney.money import Money

from accounts.models import LevelChange, MemberLevel
from kamen.testing import factories
from kamen.testing.threads import run_together
from orders import services as order_services
from orders.models import Order


@pytest.fixture
def levels(db):
    made = {}
    for name, rank, discount, upgrade_at in (
        ("普通会员", 0, "1", None),
        ("白银", 10, "0.95", "500.00"),
        ("黄金", 20, "0.88", "2000.00"),
        ("代理", 30, "1", None),
    ):
        made[name] = MemberLevel.objects.create(
            name=name,
            rank=rank,
            discount=Decimal(discount),
            upgrade_at=Decimal(upgrade_at) if upgrade_at else None,
        )
    return made


@pytest.fixture
def card(db):
    sku = factories.SkuFactory(price="100.00")
    factories.stock(sku, 60)
    return sku


def test_paid_orders_move_a_member_up_once_each_level_is_reached(paid_order, card, levels, shopper):
    paid_order(card, 4, user=shopper)  # ¥400
    shopper.refresh_from_db()
    assert shopper.level is None and shopper.paid_total == Money("400.00", "CNY")

    reaching = paid_order(card, 1, user=shopper)  # ¥500 in all: 白银
    shopper.refresh_from_db()
    paid_order(card, 2, user=shopper)  # ¥190 at 95折: ¥690, still 白银
    shopper.refresh_from_db()
    assert shopper.level == levels["白银"] and shopper.paid_total == Money("690.00", "CNY")

    paid_order(card, 10, user=shopper)  # ¥950 more: ¥1,640
    paid_order(card, 5, user=shopper)  # ¥475 more: ¥2,115, 黄金
    shopper.refresh_from_db()
    assert shopper.level == levels["黄金"] and shopper.paid_total == Money("2115.00", "CNY")
    changes = list(LevelChange.objects.filter(user=shopper).order_by("id").values_list("to_level__name", "reason"))
    assert changes == [("白银", "upgrade"), ("黄金", "upgrade")]
    assert LevelChange.objects.get(user=shopper, to_level=levels["白银"]).reference == reaching.number


def test_a_level_not_reached_by_spending_is_never_left_for_one_that_is(paid_order, card, levels, shopper):
    shopper.level = levels["代理"]
    shopper.save()

    for quantity in (10, 10, 5):  # ¥2,500: enough for 黄金, which ranks below 代理
        paid_order(card, quantity, user=shopper)

    shopper.refresh_from_db()
    assert shopper.level == levels["代理"] and not LevelChange.objects.exists()


def test_a_refund_counts_back_but_the_level_stays_unless_the_shop_says_otherwise(
    paid_order, card, levels, shopper, staff, settings, django_capture_on_commit_callbacks
):
    order = paid_order(card, 6, user=shopper)  # ¥600: 白银
    with django_capture_on_commit_callbacks(execute=True):
        order_services.create_refund(order, amount=Decimal("200.00"), destination="original", actor=staff)
    shopper.refresh_from_db()
    assert shopper.paid_total == Money("400.00", "CNY") and shopper.level == levels["白银"]

    settings.MEMBER_LEVELS_DROP_ON_REFUND = True
    with django_capture_on_commit_callbacks(execute=True):
        order_services.create_refund(order, amount=Decimal("100.00"), destination="original", actor=staff)
    shopper.refresh_from_db()
    assert shopper.paid_total == Money("300.00", "CNY") and shopper.level is None
    assert LevelChange.objects.filter(user=shopper).latest("id").reason == LevelChange.Reason.DROP


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_payments_confirmed_at_once_upgrade_a_member_once(card, levels, shopper):
    placed = [factories.place_order(card, quantity=3, user=shopper) for _ in range(4)]  # ¥300 each

    def confirm(payment):
        def run():
            with transaction.atomic():
                return factories.confirm(payment)

        return run

    outcomes = run_together([confirm(one.payment) for one in placed])

    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    shopper.refresh_from_db()
    assert shopper.paid_total == Money("1200.00", "CNY") and shopper.level == levels["白银"]
    assert LevelChange.objects.filter(user=shopper).count() == 1
    assert Order.objects.filter(user=shopper, status__in=["paid", "delivered"]).count() == 4


def test_staff_set_a_level_by_hand_and_it_is_audited(client, staff, shopper, levels):
    client.force_login(staff)
    url = reverse("admin:accounts_user_level", args=[shopper.pk])
    assert "会员等级" in client.get(url).content.decode()

    response = client.post(url, {"level": levels["代理"].pk, "note": "签约代理商"}, follow=True)

    shopper.refresh_from_db()
    assert shopper.level == levels["代理"]
    change = LevelChange.objects.get(user=shopper)
    assert (change.reason, change.actor, change.note, change.from_level) == ("staff", staff, "签约代理商", None)
    assert "代理" in response.content.decode()
    client.post(url, {"level": levels["代理"].pk, "note": "again"})
    assert LevelChange.objects.filter(user=shopper).count() == 1  # already there: nothing to record


def test_setting_a_level_needs_the_permission_to_change_users(client, shopper, levels):
    clerk = factories.UserFactory(is_staff=True)
    client.force_login(clerk)

    response = client.post(
        reverse("admin:accounts_user_level", args=[shopper.pk]), {"level": levels["代理"].pk, "note": "x"}
    )

    assert response.status_code == 403
    shopper.refresh_from_db()
    assert shopper.level is None and not LevelChange.objects.exists()
