"""Member levels (会员等级): each viewer is quoted their level's price, and pages show it."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation
from djmoney.money import Money

from accounts.models import MemberLevel
from catalog import pricing
from catalog.models import LevelPrice, WholesaleTier
from kamen.testing import factories


@pytest.fixture
def levels(db):
    return {
        name: MemberLevel.objects.create(name=name, rank=rank, discount=Decimal(discount))
        for name, rank, discount in (
            ("普通会员", 0, "1"),
            ("白银", 10, "0.95"),
            ("黄金", 20, "0.88"),
            ("代理", 30, "1"),
        )
    }


def member(level):
    return factories.UserFactory(level=level)


@pytest.mark.parametrize(
    ("retail", "level", "unit"),
    [("9.80", "白银", "9.31"), ("29.40", "黄金", "25.87"), ("0.05", "白银", "0.05"), ("9.80", "普通会员", "9.80")],
)
def test_a_levels_discount_is_rounded_half_up_to_the_fen(levels, retail, level, unit):
    sku = factories.SkuFactory(price=retail)

    quote = pricing.quote(sku, 3, user=member(levels[level]))

    assert quote.unit_price == Money(unit, "CNY") and quote.total == Money(Decimal(unit) * 3, "CNY")
    assert quote.applied == ("" if unit == retail else pricing.LEVEL)


def test_a_fixed_level_price_stands_in_for_the_discount_and_the_lower_of_level_and_wholesale_wins(levels):
    sku = factories.SkuFactory(price="10.00")
    LevelPrice.objects.create(sku=sku, level=levels["代理"], unit_price=Money("9.30", "CNY"))
    WholesaleTier.objects.create(sku=sku, min_quantity=10, unit_price=Money("9.00", "CNY"))
    agent, silver = member(levels["代理"]), member(levels["白银"])

    assert pricing.quote(sku, 2, user=agent).unit_price == Money("9.30", "CNY")
    assert pricing.quote(sku, 10, user=agent).unit_price == Money("9.00", "CNY")  # wholesale is lower
    assert pricing.quote(sku, 10, user=agent).applied == pricing.WHOLESALE
    assert pricing.quote(sku, 9, user=silver).unit_price == Money("9.50", "CNY")
    assert pricing.quote(sku, 10, user=silver).unit_price == Money("9.00", "CNY")
    assert pricing.quote(sku, 10).unit_price == Money("9.00", "CNY")  # a guest reaches the tier too
    assert pricing.quote(sku, 2).unit_price == Money("10.00", "CNY")


def test_a_member_sees_their_price_beside_the_retail_price_and_a_visitor_the_retail_price(client, levels):
    sku = factories.SkuFactory(price="9.80")
    factories.stock(sku, 3)
    url = sku.product.get_absolute_url()

    visitor = client.get(url).content.decode()
    client.force_login(member(levels["白银"]))
    silver = client.get(url).content.decode()

    assert "¥9.80" in visitor and "¥9.31" not in visitor
    assert re.search(r"data-member-price\s+hidden", visitor)
    assert (
        re.search(r"data-unit-price>¥9.31<", silver) and '<s class="price-retail" data-retail-price>¥9.80</s>' in silver
    )
    assert "白银价" in silver and 'data-price="9.31"' in silver and 'data-retail="9.80"' in silver


def test_the_order_keeps_the_level_price_it_was_placed_at(client, levels):
    sku = factories.SkuFactory(price="9.80")
    factories.stock(sku, 3)
    gold = member(levels["黄金"])

    placed = factories.place_order(sku, quantity=2, user=gold)
    levels["黄金"].discount = Decimal("0.5")
    levels["黄金"].save()

    order = placed.order
    order.refresh_from_db()
    assert order.total == Money("17.24", "CNY") and order.pricing["level"] == "黄金"
    client.force_login(gold)
    page = client.get(order.get_absolute_url()).content.decode()
    assert "会员价（黄金 88折）" in page and "−¥2.36" in page
    with translation.override("en"):
        assert order.price_adjustments[0][0] == "Member price (黄金, 12% off)"


def test_a_change_of_the_lowest_level_shows_at_once_on_pages_cached_for_visitors(levels):
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 3)
    visitor = Client()
    assert "¥10.00" in visitor.get(sku.product.get_absolute_url()).content.decode()

    everyone = levels["普通会员"]
    everyone.discount = Decimal("0.90")
    everyone.save()

    assert re.search(r"data-unit-price>¥9.00<", visitor.get(sku.product.get_absolute_url()).content.decode())


def test_list_pages_show_each_level_its_own_prices_and_never_one_members_to_another(client, levels):
    sku = factories.SkuFactory(price="9.80", product__title="腾讯Q币卡")
    other = factories.SkuFactory(price="29.40", product=sku.product)
    LevelPrice.objects.create(sku=other, level=levels["代理"], unit_price=Money("8.00", "CNY"))
    factories.stock(sku, 3)
    url = sku.product.category.get_absolute_url()

    def card(user=None) -> str:
        viewer = Client()
        if user is not None:
            viewer.force_login(user)
        html = viewer.get(url).content.decode()
        return re.search(r'<div class="pcard-foot">.*?</div>', html, re.S)[0]

    assert "¥9.80" in card() and "price-retail" not in card()
    silver = card(member(levels["白银"]))
    assert "¥9.31" in silver and '<s class="price-retail">¥9.80</s>' in silver
    agent = card(member(levels["代理"]))  # a fixed price on the dearer spec makes it the cheapest
    assert "¥8.00" in agent and '<s class="price-retail">¥9.80</s>' in agent
    assert "¥9.80" in card() and "price-retail" not in card()  # visitors still get retail
