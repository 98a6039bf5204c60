"""Coupon races on PostgreSQL, with real threads and real commits: a coupon's last use goes to exactly
one order, and a per-member limit holds however many checkouts one member sends at once."""

import pytest

from kamen.testing import factories
from kamen.testing.threads import MANY_CONNECTIONS, run_together
from orders import services
from orders.models import Coupon, CouponUse, Order

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("transactional_db", "english")]


def checkout(sku, user, code: str):
    return lambda: factories.place_order(sku, quantity=1, user=user, coupon=code)


@MANY_CONNECTIONS
def test_fifty_checkouts_on_a_coupon_with_ten_uses_left_give_it_to_exactly_ten_orders():
    # given a coupon with 10 of its 12 uses left, and stock for everyone
    sku = factories.SkuFactory(price="30.00")
    factories.stock(sku, 50)
    coupon = factories.CouponFactory(code="LAST10", total_uses=12, used_count=2)
    buyers = [factories.UserFactory() for _ in range(50)]

    # when
    outcomes = run_together([checkout(sku, buyer, "LAST10") for buyer in buyers])

    # then
    placed = [outcome for outcome in outcomes if isinstance(outcome, services.PlacedOrder)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, services.PlacedOrder)]
    assert len(placed) == 10
    assert all(isinstance(error, services.CouponRefused) for error in refused), refused
    assert {str(error) for error in refused} == {"This coupon has been used up."}
    assert Coupon.objects.get(pk=coupon.pk).used_count == 12
    assert CouponUse.objects.filter(coupon=coupon, state=CouponUse.State.HELD).count() == 10
    assert sorted(CouponUse.objects.values_list("order", flat=True)) == sorted(each.order.pk for each in placed)
    assert Order.objects.count() == 10  # refused checkouts left nothing behind, their codes neither


def test_a_member_sending_eight_checkouts_at_once_gets_the_coupon_as_often_as_it_allows():
    sku = factories.SkuFactory(price="30.00")
    factories.stock(sku, 8)
    coupon = factories.CouponFactory(code="TWICE", uses_per_member=2)
    member = factories.UserFactory()

    outcomes = run_together([checkout(sku, member, "TWICE") for _ in range(8)])

    placed = [outcome for outcome in outcomes if isinstance(outcome, services.PlacedOrder)]
    assert len(placed) == 2
    assert CouponUse.objects.filter(coupon=coupon, user=member).count() == 2
    assert Coupon.objects.get(pk=coupon.pk).used_count == 2
