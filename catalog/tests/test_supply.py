"""Upstream Skus on our side: price templates, stock from the suppliers, off sale below cost, routing."""

from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.models import AlertChannel, MemberLevel, StaffAlert
from catalog import crypto
from catalog.models import LevelPrice, Sku, Supplier, SupplierProduct
from catalog.selectors import free_codes_by_product, sku_stock
from catalog.supply import UNLIMITED_STOCK, refresh_upstream_skus, route, templated_price
from kamen.testing import factories
from kamen.testing.fake_fulu import fake_fulu  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def supplier(name="上游A", priority=10, **fields) -> Supplier:
    row = Supplier(name=name, adapter="kamen", base_url="https://up.example", account="ak", priority=priority, **fields)
    row.secret_encrypted = crypto.encrypt("s")
    row.save()
    return row


def upstream_sku(**fields) -> Sku:
    fields.setdefault("price", "10.00")
    return factories.SkuFactory(delivery_kind=Sku.DeliveryKind.UPSTREAM, **fields)


def supply(sku, source, *, cost, stock=10, code=None, **fields) -> SupplierProduct:
    return SupplierProduct.objects.create(
        supplier=source, sku=sku, code=code or f"{source.pk}-{sku.pk}", cost=Money(cost, "CNY"), stock=stock, **fields
    )


@pytest.mark.parametrize(
    "rule, margin, step, cost, price",
    [
        ("cost_plus", "1.00", "0.10", "8.33", "9.40"),
        ("cost_percent", "10", "0.10", "8.33", "9.20"),  # 9.163 rounded up to the jiao
        ("cost_percent", "10", "1.00", "8.33", "10.00"),
        ("cost_percent", "5", "0.01", "9.99", "10.49"),  # 10.4895 up to the fen
        ("fixed", "0", "0.10", "8.33", None),
    ],
)
def test_a_price_template_rounds_up_never_below_cost_plus_margin(rule, margin, step, cost, price):
    sku = Sku(price_rule=rule, margin=Decimal(margin), price_step=step)
    result = templated_price(sku, Decimal(cost))
    assert (str(result.quantize(Decimal("0.01"))) if result is not None else None) == price


def test_stock_is_the_sum_over_suppliers_and_the_price_follows_the_first_ones_cost():
    sku = upstream_sku(price_rule="cost_plus", margin=Decimal("2.00"), price_step="0.10")
    supply(sku, supplier("A", priority=1), cost="8.00", stock=3)
    supply(sku, supplier("B", priority=2), cost="7.00", stock=None)  # says no count: unlimited
    supply(sku, supplier("C", priority=3, enabled=False), cost="1.00", stock=50)
    refresh_upstream_skus(Sku.objects.filter(pk=sku.pk))
    sku.refresh_from_db()
    assert sku.upstream_stock == 3 + UNLIMITED_STOCK
    assert (sku.cost.amount, sku.price.amount) == (Decimal("8.00"), Decimal("10.00"))
    assert sku_stock(sku.product_id)[sku.pk].free == 3 + UNLIMITED_STOCK
    assert free_codes_by_product([sku.product_id]) == {sku.product_id: 3 + UNLIMITED_STOCK}


def test_upstream_stock_zero_shows_sold_out():
    sku = upstream_sku()
    supply(sku, supplier(), cost="8.00", stock=0)
    refresh_upstream_skus(Sku.objects.filter(pk=sku.pk))
    assert sku_stock(sku.product_id)[sku.pk] == (0, False)
    assert free_codes_by_product([sku.product_id]) == {}


def test_routing_by_priority_or_cheapest_in_stock():
    sku = upstream_sku()
    first = supply(sku, supplier("A", priority=1), cost="9.00")
    cheap = supply(sku, supplier("B", priority=2), cost="8.00")
    supply(sku, supplier("C", priority=0), cost="1.00", stock=0)  # sold out there: never asked
    assert route(sku) == [first, cheap]
    sku.routing = Sku.Routing.CHEAPEST
    assert route(sku) == [cheap, first]
    assert route(sku, exclude={cheap.supplier_id}) == [first]


def test_a_cost_above_a_selling_price_takes_the_sku_off_sale_and_alerts_staff_then_it_returns():
    AlertChannel.objects.create(name="ops", kind="email", target="ops@example.com", events=["supply"])
    sku = upstream_sku(price="10.00")  # fixed price
    level = MemberLevel.objects.create(name="代理", rank=3)
    LevelPrice.objects.create(sku=sku, level=level, unit_price=Money("9.00", "CNY"))
    row = supply(sku, supplier(), cost="9.50")
    refresh_upstream_skus(Sku.objects.filter(pk=sku.pk))
    sku.refresh_from_db()
    assert not sku.is_active and "9.50" in sku.halted_reason
    assert StaffAlert.objects.filter(event="supply").count() == 1
    # The cost falls back below every price: on sale again by itself.
    SupplierProduct.objects.filter(pk=row.pk).update(cost=Money("8.00", "CNY"))
    refresh_upstream_skus(Sku.objects.filter(pk=sku.pk))
    sku.refresh_from_db()
    assert sku.is_active and sku.halted_reason == ""


def fulu_supplier(fake, **fields) -> Supplier:
    row = Supplier(name="福禄", adapter="fulu", base_url=fake.url, account=fake.app_key, timeout_seconds=2, **fields)
    row.secret_encrypted = crypto.encrypt(fake.app_secret)
    row.save()
    return row


def test_the_sync_reads_a_suppliers_products_and_new_ones_wait_for_review(fake_fulu):  # noqa: F811
    from catalog.models import Product
    from catalog.supply import sync_supplier

    fake_fulu.add_product(201, "腾讯Q币10元", "9.20", stock=30)
    source = fulu_supplier(fake_fulu)
    result = sync_supplier(source)
    assert (result.error, result.products, result.new) == ("", 1, 1)
    row = SupplierProduct.objects.get(supplier=source, code="201")
    assert (row.cost.amount, row.kind) == (Decimal("9.20"), "card")
    product = row.sku.product
    assert product.status == Product.Status.PENDING and not product.is_on_shelf
    assert row.sku.price.amount == Decimal("10.20")  # 9.20 + 10 %, up to the jiao
    source.refresh_from_db()
    assert source.balance.amount == Decimal("1000.00") and source.synced_at is not None
    # The supplier runs out, then drops the product: shown sold out either way, nothing new made.
    fake_fulu.products[201].stock = 0
    assert sync_supplier(source).new == 0
    assert Sku.objects.get(pk=row.sku_id).upstream_stock == 0
    del fake_fulu.products[201]
    sync_supplier(source)
    assert not SupplierProduct.objects.get(pk=row.pk).available
    assert Product.objects.count() == 1


def test_a_sync_that_cannot_reach_the_supplier_is_recorded_and_changes_nothing(fake_fulu):  # noqa: F811
    from catalog.supply import sync_supplier

    source = fulu_supplier(fake_fulu)
    fake_fulu.down = True
    result = sync_supplier(source)
    source.refresh_from_db()
    assert result.error and source.sync_error == result.error[:300]
    assert not SupplierProduct.objects.exists()
