"""Coupons (优惠券): what each kind takes off beside member and wholesale prices, who may use one, and
a use held at checkout, taken on payment and given back on cancel or expiry."""

from datetime import timedelta
from decimal import Decimal

import hypothesis
import pytest
from django.utils import timezone
from djmoney.money import Money
from hypothesis import strategies as st

from accounts.models import MemberLevel
from catalog import pricing
from catalog.models import LevelPrice, WholesaleTier
from kamen.testing import factories
from orders import services
from orders.models import Coupon, CouponUse, Order, OrderEvent
from orders.services import coupons as coupon_services
from payments.models import Payment

pytestmark = pytest.mark.usefixtures("english")  # the refusals are read in English


def yuan(amount: str) -> Money:
    return Money(amount, "CNY")


@pytest.fixture
def gold(db):
    MemberLevel.objects.create(name="普通会员", rank=0)  # guests' level
    return MemberLevel.objects.create(name="黄金会员", rank=20, discount=Decimal("0.88"))


@pytest.fixture
def agency(db):
    return MemberLevel.objects.create(name="代理", rank=30, discount=Decimal("1"))


def coupon(**terms) -> Coupon:
    return factories.CouponFactory(**terms)


AMOUNT_OFF = {"kind": Coupon.Kind.AMOUNT_OFF, "amount_off": "5.00", "min_spend": "20.00"}
PERCENT_OFF = {
    "kind": Coupon.Kind.PERCENT_OFF,
    "amount_off": 0,
    "min_spend": 0,
    "percent_off": 15,
    "max_discount": "4.00",
}
NO_THRESHOLD = {"kind": Coupon.Kind.NO_THRESHOLD, "amount_off": "3.00", "min_spend": 0}


@pytest.mark.parametrize(
    ("terms", "who", "quantity", "unit", "off", "total"),
    [
        # 满减 ¥5 from ¥20, on retail ¥10: two reach the minimum, one does not (refused, see below).
        (AMOUNT_OFF, "guest", 2, "10.00", "5.00", "15.00"),
        # on the gold level's 88折 price ¥8.80: two make ¥17.60, below the minimum; three make ¥26.40.
        (AMOUNT_OFF, "gold", 3, "8.80", "5.00", "21.40"),
        # on the agency's fixed ¥9.30: ¥27.90 for three.
        (AMOUNT_OFF, "agency", 3, "9.30", "5.00", "22.90"),
        # on the wholesale ¥9.00 from ten, lower than the agency price: ¥90.00.
        (AMOUNT_OFF, "agency", 10, "9.00", "5.00", "85.00"),
        # 15% off, capped at ¥4: ¥20.00 → ¥3.00 off; ¥90.00 → ¥13.50, capped to ¥4.00.
        (PERCENT_OFF, "guest", 2, "10.00", "3.00", "17.00"),
        (PERCENT_OFF, "agency", 10, "9.00", "4.00", "86.00"),
        # 15% of gold's ¥8.80 is ¥1.32.
        (PERCENT_OFF, "gold", 1, "8.80", "1.32", "7.48"),
        # 无门槛 ¥3, never more than the goods.
        (NO_THRESHOLD, "gold", 1, "8.80", "3.00", "5.80"),
    ],
)
def test_a_coupon_applies_after_the_lower_of_level_and_wholesale_price(
    db, gold, agency, terms, who, quantity, unit, off, total
):
    sku = factories.SkuFactory(price="10.00")
    LevelPrice.objects.create(sku=sku, level=agency, unit_price=yuan("9.30"))
    WholesaleTier.objects.create(sku=sku, min_quantity=10, unit_price=yuan("9.00"))
    user = {"guest": None, "gold": factories.UserFactory(level=gold), "agency": factories.UserFactory(level=agency)}[
        who
    ]

    quote = pricing.quote(sku, quantity, user=user, coupon=coupon(**terms))

    assert quote.unit_price == yuan(unit)
    assert quote.coupon_discount == yuan(off)
    assert quote.total == yuan(total)
    assert quote.saving == yuan(Decimal("10.00") * quantity - Decimal(total))


def test_a_percentage_is_rounded_half_up_to_the_fen_once(db):
    sku = factories.SkuFactory(price="10.05")  # 10% of ¥10.05 is ¥1.005

    quote = pricing.quote(sku, 1, coupon=coupon(kind=Coupon.Kind.PERCENT_OFF, percent_off=10, min_spend=0))

    assert quote.coupon_discount == yuan("1.01") and quote.total == yuan("9.04")


def test_an_amount_off_never_takes_more_than_the_goods_cost(db):
    sku = factories.SkuFactory(price="1.50")

    quote = pricing.quote(sku, 1, coupon=coupon(kind=Coupon.Kind.NO_THRESHOLD, amount_off="5.00", min_spend=0))

    assert quote.coupon_discount == yuan("1.50") and quote.total == yuan("0.00")


def test_a_coupon_that_does_not_combine_is_weighed_against_the_member_price(db, gold):
    sku = factories.SkuFactory(price="10.00")
    member = factories.UserFactory(level=gold)
    alone = {"combines_with_member_price": False, "min_spend": 0}

    small = pricing.quote(sku, 2, user=member, coupon=coupon(kind=Coupon.Kind.NO_THRESHOLD, amount_off="1.00", **alone))
    big = pricing.quote(sku, 2, user=member, coupon=coupon(kind=Coupon.Kind.NO_THRESHOLD, amount_off="5.00", **alone))

    # ¥17.60 at 88折 beats ¥20.00 − ¥1.00: the member price stands, the coupon takes nothing.
    assert small.total == yuan("17.60") and small.coupon is None
    assert small.coupon_refusal == pricing.MEMBER_PRICE_LOWER
    # ¥20.00 − ¥5.00 beats ¥17.60: retail with the coupon.
    assert big.total == yuan("15.00") and big.unit_price == yuan("10.00") and big.applied == ""
    assert big.coupon_discount == yuan("5.00")


def test_below_its_minimum_spend_a_coupon_takes_nothing_and_checkout_says_why(db, sku):
    coupon(code="MAN20")

    assert pricing.quote(sku, 1, coupon=Coupon.objects.get()).coupon_refusal == pricing.BELOW_MINIMUM
    with pytest.raises(services.CouponRefused, match="at least ¥20.00"):
        factories.place_order(sku, quantity=1, user=factories.UserFactory(), coupon="man20")
    assert not Order.objects.exists()


@hypothesis.settings(
    max_examples=40, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)
@hypothesis.given(
    retail=st.integers(min_value=1, max_value=50_000),
    discount=st.sampled_from(["1", "0.95", "0.88", "0.5"]),
    tier=st.one_of(st.none(), st.tuples(st.integers(2, 5), st.integers(1, 50_000))),
    kind=st.sampled_from([Coupon.Kind.AMOUNT_OFF, Coupon.Kind.PERCENT_OFF, Coupon.Kind.NO_THRESHOLD]),
    off=st.integers(1, 60_000),
    percent=st.integers(1, 100),
    combines=st.booleans(),
    quantity=st.integers(1, 6),
)
def test_a_quote_is_never_negative_never_above_retail_and_the_order_asks_the_gateway_for_it(
    db, retail, discount, tier, kind, off, percent, combines, quantity
):
    rank = int(Decimal(discount) * 100)
    level = MemberLevel.objects.get_or_create(
        name=f"L{discount}", defaults={"rank": rank, "discount": Decimal(discount)}
    )
    level = level[0]
    sku = factories.SkuFactory(price=Money(Decimal(retail) / 100, "CNY"))
    factories.stock(sku, quantity)
    if tier:
        WholesaleTier.objects.create(sku=sku, min_quantity=tier[0], unit_price=Money(Decimal(tier[1]) / 100, "CNY"))
    terms = {"kind": kind, "combines_with_member_price": combines, "min_spend": 0, "uses_per_member": None}
    if kind == Coupon.Kind.PERCENT_OFF:
        terms |= {"percent_off": percent, "amount_off": 0}
    else:
        terms |= {"amount_off": Money(Decimal(off) / 100, "CNY")}
    shared = coupon(code=f"H{Coupon.objects.count()}X", **terms)
    member = factories.UserFactory(level=level)

    quote = pricing.quote(sku, quantity, user=member, coupon=shared)

    retail_total = Money(Decimal(retail) / 100 * quantity, "CNY")
    assert yuan("0") <= quote.total <= retail_total
    assert quote.total.amount == quote.total.amount.quantize(Decimal("0.01"))
    assert quote.total == quote.goods_total - quote.coupon_discount
    # A coupon that takes nothing off is refused at checkout, which then goes ahead without it.
    placed = factories.place_order(sku, quantity=quantity, user=member, coupon=shared.code if quote.coupon else "")
    assert placed.payment.amount == quote.total == placed.order.total
    assert Decimal(placed.order.pricing["total"]) == placed.payment.amount.amount


# ---------------------------------------------------------------- who may use it


def refusal(sku, user=None, **lookup) -> str:
    try:
        choice = services.find_coupon(user=user, **lookup)
        coupon_services.check_coupon(choice, sku=sku, user=user)
    except services.CouponRefused as error:
        return str(error)
    return ""


def test_a_coupon_says_why_it_cannot_be_used(db, sku, gold, shopper):
    now = timezone.now()
    other = factories.SkuFactory()
    coupon(code="LATER", valid_from=now + timedelta(days=1))
    coupon(code="OVER", valid_until=now - timedelta(minutes=1))
    coupon(code="OFF", is_active=False)
    coupon(code="OTHER").skus.set([other])
    coupon(code="GOLD").levels.set([gold])
    coupon(code="FIRST", first_order_only=True)
    coupon(code="GONE", total_uses=1).__class__.objects.filter(code="GONE").update(used_count=1)

    assert refusal(sku, shopper, code="nope") == "There is no coupon with this code."
    assert refusal(sku, shopper, code="LATER") == "This coupon cannot be used yet."
    assert refusal(sku, shopper, code="OFF") == "This coupon cannot be used yet."
    assert refusal(sku, shopper, code="OVER") == "This coupon has expired."
    assert refusal(sku, shopper, code="OTHER") == "This coupon is not for this product."
    assert refusal(other, shopper, code="OTHER") == ""
    assert refusal(sku, shopper, code="GOLD") == "This coupon is for other member levels."
    assert refusal(sku, factories.UserFactory(level=gold), code="GOLD") == ""
    assert refusal(sku, None, code="FIRST") == "Sign in to use this coupon."
    assert refusal(sku, shopper, code="FIRST") == ""
    assert refusal(sku, shopper, code="GONE") == "This coupon has been used up."
    assert refusal(sku, shopper, grant_id=12345) == "This coupon is not in your account."


def test_a_category_coupon_covers_its_subcategories(db):
    top = factories.CategoryFactory()
    sku = factories.SkuFactory(product__category=factories.CategoryFactory(parent=top))
    coupon(code="GAMES").categories.set([top])

    assert refusal(sku, factories.UserFactory(), code=" games ") == ""


def test_a_first_order_coupon_is_refused_after_a_paid_order(db, sku, shopper, paid_order):
    coupon(code="FIRST", first_order_only=True, uses_per_member=None)
    paid_order(sku, quantity=1, user=shopper)

    assert refusal(sku, shopper, code="FIRST") == "This coupon is for a first order only."


def test_a_guest_may_use_a_coupon_without_per_member_limits(db, sku):
    coupon(code="ALL", uses_per_member=None, min_spend=0)

    placed = factories.place_order(sku, quantity=1, coupon="all")

    assert placed.order.total == yuan("5.00")
    assert CouponUse.objects.get().user is None


# ---------------------------------------------------------------- held, used, released


def test_a_use_is_held_at_checkout_used_on_payment_and_shown_on_the_order(db, sku, shopper, pay):
    welcome = coupon(code="WELCOME5")

    placed = factories.place_order(sku, quantity=2, user=shopper, coupon="WELCOME5")

    use = CouponUse.objects.get(order=placed.order)
    assert use.state == CouponUse.State.HELD and use.discount == yuan("5.00")
    assert Coupon.objects.get(pk=welcome.pk).used_count == 1
    assert placed.order.total == placed.payment.amount == yuan("15.00")
    pay(placed.payment)
    assert CouponUse.objects.get(pk=use.pk).state == CouponUse.State.USED
    order = Order.objects.get(pk=placed.order.pk)
    assert order.status == Order.Status.DELIVERED
    assert order.price_adjustments == [(f"Coupon ({welcome.name})", yuan("5.00"))]
    # Once per member: the same shopper is refused a second time.
    assert refusal(sku, shopper, code="WELCOME5") == "You have already used this coupon as often as it allows."


def test_a_cancelled_or_expired_order_gives_its_use_back(db, sku, shopper):
    shared = coupon(code="TWICE", uses_per_member=None, total_uses=2)
    first = factories.place_order(sku, user=shopper, coupon="TWICE")
    second = factories.place_order(sku, user=shopper, coupon="TWICE")
    assert refusal(sku, shopper, code="TWICE") == "This coupon has been used up."

    services.cancel_order(first.order, actor=shopper)
    expire(second)

    assert Coupon.objects.get(pk=shared.pk).used_count == 0
    assert set(CouponUse.objects.values_list("state", flat=True)) == {CouponUse.State.RELEASED}
    assert refusal(sku, shopper, code="TWICE") == ""


def expire(placed) -> None:
    Order.objects.filter(pk=placed.order.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    services.expire_unpaid_orders()


def test_paid_after_expiry_an_order_takes_its_use_again(db, sku, shopper, pay):
    shared = coupon(code="ONE", uses_per_member=None, total_uses=1)
    late = factories.place_order(sku, user=shopper, coupon="ONE")
    expire(late)

    pay(late.payment)

    assert CouponUse.objects.get(order=late.order).state == CouponUse.State.USED
    assert Coupon.objects.get(pk=shared.pk).used_count == 1


def test_paid_after_expiry_with_the_coupon_gone_an_order_keeps_the_price_it_was_paid_at(db, sku, shopper, pay):
    shared = coupon(code="ONE", uses_per_member=None, total_uses=1)
    late = factories.place_order(sku, user=shopper, coupon="ONE")
    expire(late)
    factories.place_order(sku, user=shopper, coupon="ONE")  # takes the last use meanwhile

    pay(late.payment)

    order = Order.objects.get(pk=late.order.pk)
    assert order.status == Order.Status.DELIVERED and order.total == yuan("15.00")
    assert CouponUse.objects.get(order=order).state == CouponUse.State.RELEASED
    assert order.events.filter(type=OrderEvent.Type.COUPON_HONOURED).exists()
    assert Coupon.objects.get(pk=shared.pk).used_count == 1  # never beyond its limit


def test_a_single_use_code_goes_to_one_order(db, sku):
    batch = coupon(uses_per_member=None, min_spend=0)
    code = coupon_services.generate_codes(batch, count=3, prefix="vip")[0].code

    assert code.startswith("VIP") and len(code) == 13
    factories.place_order(sku, quantity=1, user=factories.UserFactory(), coupon=code.lower())
    assert refusal(sku, factories.UserFactory(), code=code) == "This code has already been used."


def test_a_granted_coupon_is_the_members_own_and_used_once(db, sku, shopper):
    gift = coupon(min_spend=0)
    grant, created = coupon_services.grant_coupon(gift, shopper, reason="staff", reference="r1")
    assert created and not coupon_services.grant_coupon(gift, shopper, reason="staff", reference="r1")[1]

    assert refusal(sku, factories.UserFactory(), grant_id=grant.pk) == "This coupon is not in your account."
    placed = factories.place_order(sku, quantity=1, user=shopper, grant=grant)

    assert placed.order.total == yuan("5.00")
    assert list(services.unused_grants(shopper)) == []
    services.cancel_order(placed.order, actor=shopper)
    assert list(services.unused_grants(shopper)) == [grant]


# ---------------------------------------------------------------- free orders


def test_an_order_a_coupon_makes_free_is_paid_at_once_without_a_gateway(
    db, sku, shopper, django_capture_on_commit_callbacks
):
    coupon(code="FREE", kind=Coupon.Kind.PERCENT_OFF, percent_off=100, amount_off=0, min_spend=0)

    with django_capture_on_commit_callbacks(execute=True):
        placed = factories.place_order(sku, "alipay", quantity=2, user=shopper, coupon="FREE")

    order = Order.objects.get(pk=placed.order.pk)
    payment = Payment.objects.get(pk=placed.payment.pk)
    assert order.status == Order.Status.DELIVERED and order.total == yuan("0.00")
    assert (payment.provider, payment.amount, payment.state) == ("free", yuan("0.00"), Payment.State.CONFIRMED)
    assert CouponUse.objects.get(order=order).state == CouponUse.State.USED
    assert services.refund_refusal(order, payment=payment) == (
        "Nothing was paid for this order, so there is nothing to refund."
    )
