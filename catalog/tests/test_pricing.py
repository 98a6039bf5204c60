"""Wholesale prices (批发价): the quote, what staff may set, what the buyer sees and what the order keeps."""

import re
from decimal import Decimal

import hypothesis
import pytest
from django.test import Client
from django.urls import reverse
from djmoney.money import Money
from hypothesis import strategies as st

from accounts.models import MemberLevel
from catalog import pricing
from catalog.models import WholesaleTier
from kamen.testing import factories
from kamen.testing.pages import sku_admin_form
from payments.models import Payment


def tiers(sku, *prices: tuple[int, str]) -> None:
    for quantity, price in prices:
        WholesaleTier.objects.create(sku=sku, min_quantity=quantity, unit_price=Money(price, "CNY"))


@pytest.mark.parametrize(
    ("quantity", "unit", "tier"),
    [(1, "10.00", None), (4, "10.00", None), (5, "9.50", 5), (9, "9.50", 5), (10, "9.00", 10), (200, "9.00", 10)],
)
def test_the_quote_takes_the_wholesale_price_the_quantity_reaches(sku, quantity, unit, tier):
    tiers(sku, (5, "9.50"), (10, "9.00"))

    quote = pricing.quote(sku, quantity)

    assert quote.unit_price == Money(unit, "CNY") and quote.wholesale_from == tier
    assert quote.total == Money(Decimal(unit) * quantity, "CNY")
    assert quote.saving == Money((Decimal("10.00") - Decimal(unit)) * quantity, "CNY")


def test_a_tier_not_below_retail_is_never_taken(sku):
    tiers(sku, (3, "10.00"), (6, "12.00"))
    assert pricing.quote(sku, 8).unit_price == Money("10.00", "CNY")


@hypothesis.settings(
    max_examples=60, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)
@hypothesis.given(
    retail=st.integers(min_value=1, max_value=100_000),
    offsets=st.lists(st.tuples(st.integers(2, 500), st.integers(1, 100_000)), max_size=4, unique_by=lambda t: t[0]),
    quantity=st.integers(1, 1000),
)
def test_a_quote_is_never_negative_never_above_retail_and_whole_fen(db, retail, offsets, quantity):
    sku = factories.SkuFactory(price=Money(Decimal(retail) / 100, "CNY"))
    tiers(sku, *((n, str(Decimal(fen) / 100)) for n, fen in offsets))

    quote = pricing.quote(sku, quantity)

    assert Money(0, "CNY") < quote.total <= Money(Decimal(retail) / 100 * quantity, "CNY")
    assert quote.total.amount == quote.total.amount.quantize(Decimal("0.01"))
    assert quote.total == Money(quote.unit_price.amount * quantity, "CNY")


def test_the_order_keeps_its_pricing_and_the_gateway_is_asked_for_that_total(sku, client):
    factories.stock(sku, 20, prefix="MORE")
    tiers(sku, (10, "9.00"))

    placed = factories.place_order(sku, quantity=10)
    WholesaleTier.objects.filter(sku=sku).update(unit_price=Money("5.00", "CNY"))  # a later price change

    order = placed.order
    order.refresh_from_db()
    assert order.total == Money("90.00", "CNY") and order.unit_price == Money("9.00", "CNY")
    assert order.pricing["wholesale_from"] == 10 and order.pricing["saving"] == "10.00"
    assert Payment.objects.get(pk=placed.payment.pk).amount == order.total

    page = client.get(order.get_secret_url(), follow=True).content.decode()
    assert "批发价（满10件）" in page and "−¥10.00" in page


def test_the_product_page_shows_the_tiers_and_gives_its_script_the_prices(client, sku):
    tiers(sku, (5, "9.50"), (10, "9.00"))

    html = client.get(sku.product.get_absolute_url()).content.decode()

    assert "满5件 ¥9.50/件" in html and "满10件 ¥9.00/件" in html
    assert re.search(rf'value="{sku.pk}"[^>]*data-tiers="5:9.50,10:9.00"', html, re.S)


def test_staff_cannot_set_a_wholesale_price_that_rises_with_the_quantity_or_reaches_retail(client, staff, sku):
    visitor = Client()
    assert "满5件" not in visitor.get(sku.product.get_absolute_url()).content.decode()  # cached from here on
    client.force_login(staff)
    url = reverse("admin:catalog_sku_change", args=[sku.pk])

    def post(*rows):
        return client.post(url, sku_admin_form(sku, tiers=rows))

    rising = post((5, "9.00"), (10, "9.50"))
    assert rising.status_code == 200 and "批发价须随数量递增而降低" in rising.content.decode()
    at_retail = post((5, "10.00"), (10, "9.50"))
    assert at_retail.status_code == 200 and "每档批发价都必须低于零售价" in at_retail.content.decode()
    from_one = post((1, "9.50"))
    assert from_one.status_code == 200 and "批发价至少从 2 件起批" in from_one.content.decode()
    assert not WholesaleTier.objects.exists()

    assert post((5, "9.50"), (10, "9.00")).status_code == 302
    assert list(sku.tiers.values_list("min_quantity", flat=True)) == [5, 10]
    assert "满5件 ¥9.50/件" in visitor.get(sku.product.get_absolute_url()).content.decode()  # shown at once


def test_staff_are_warned_but_not_stopped_when_a_price_is_below_the_known_cost(client, staff, sku):
    MemberLevel.objects.create(name="普通会员", rank=0)
    MemberLevel.objects.create(name="黄金会员", rank=20, discount=Decimal("0.88"))
    client.force_login(staff)
    url = reverse("admin:catalog_sku_change", args=[sku.pk])

    below = client.post(url, sku_admin_form(sku, cost="9.20", tiers=((5, "9.50"), (10, "9.00"))), follow=True)
    above = client.post(url, sku_admin_form(sku, cost="8.00"), follow=True)  # the tiers stay as saved

    warning = "低于已知成本 ¥9.20：满10件 ¥9.00、黄金会员 ¥8.80。"
    assert warning in below.content.decode()
    assert WholesaleTier.objects.filter(sku=sku).count() == 2 and sku.__class__.objects.get(pk=sku.pk).cost is not None
    assert "低于已知成本" not in above.content.decode()
