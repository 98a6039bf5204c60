"""Two kamen shops on loopback, the second (real processes: migrate, gunicorn) the upstream of the
first: a shopper buys here, this shop buys there through /api/v1/, the codes arrive here."""

import pytest
from django.db import connection

from catalog import crypto
from catalog.models import CardCode, Product, Sku, Supplier, SupplierProduct
from catalog.supply import sync_supplier
from kamen.client import KamenClient
from kamen.testing import factories
from kamen.testing.upstream_shop import start_upstream_shop
from orders.models import Order, UpstreamPurchase

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("upstream-shop")]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory, django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():  # its database is copied from this run's migrated one
        shop = start_upstream_shop(tmp_path_factory.mktemp("upstream-shop"))
    yield shop
    with django_db_blocker.unblock():
        shop.stop()


def kamen_supplier(upstream, **fields) -> Supplier:
    supplier = Supplier(name="上游卡盟", adapter="kamen", base_url=upstream.url, account=upstream.key, **fields)
    supplier.secret_encrypted = crypto.encrypt(upstream.secret)
    supplier.save()
    return supplier


def test_a_purchase_here_is_bought_and_delivered_from_the_upstream_shop(upstream, live_server, settings):
    settings.SITE_URL = live_server.url  # where the upstream shop's webhook calls back
    supplier = kamen_supplier(upstream)
    upstream_api = KamenClient(upstream.url, key=upstream.key, secret=upstream.secret)

    # The sync finds the upstream product: it arrives pending review, priced at cost plus 10%.
    result = sync_supplier(supplier)
    assert (result.error, result.new) == ("", 1)
    row = SupplierProduct.objects.get(supplier=supplier, code=str(upstream.sku))
    sku = row.sku
    assert sku.product.status == Product.Status.PENDING and not sku.product.is_on_shelf
    assert (sku.delivery_kind, sku.upstream_stock, str(sku.cost.amount), str(sku.price.amount)) == (
        "upstream",
        5,
        "8.00",
        "8.80",
    )

    # Staff publish it; a shopper buys two and pays.
    Product.objects.filter(pk=sku.product_id).update(status=Product.Status.APPROVED, is_on_shelf=True)
    sku = Sku.objects.get(pk=sku.pk)
    placed = factories.place_order(sku, quantity=2)
    factories.confirm(placed.payment)  # live_server's transaction: on_commit runs the delivery inline

    order = Order.objects.get(pk=placed.order.pk)
    assert order.status == Order.Status.DELIVERED, order.abnormal_reason
    codes = sorted(code.secret for code in CardCode.objects.filter(order=order))
    assert len(codes) == 2 and all(code.startswith(f"UP-{upstream.sku}-") for code in codes)
    [purchase] = UpstreamPurchase.objects.filter(order=order)
    assert (purchase.state, purchase.cost.amount) == ("delivered", 16)

    # The upstream shop sold two codes from its stock and took ¥16 from our wallet there, once.
    upstream_order = upstream_api.order_by_client_no(purchase.key)
    assert sorted(code["secret"] for code in upstream_order["codes"]) == codes
    assert upstream_api.balance()["balance"] == "84.00"
    assert upstream_api.product(_product_id(upstream_api, upstream.sku))["skus"][0]["stock"] == 3
    # A second delivery run (a retried task) buys nothing more.
    from orders.services import deliver_order

    deliver_order(order.pk)
    assert upstream_api.balance()["balance"] == "84.00"
    assert UpstreamPurchase.objects.filter(order=order).count() == 1
    # Our shown stock follows the upstream's on the next sync.
    sync_supplier(supplier)
    assert Sku.objects.get(pk=sku.pk).upstream_stock == 3
    connection.close()


def _product_id(client: KamenClient, sku_id: int) -> int:
    return next(p["id"] for p in client.products()["results"] if any(s["id"] == sku_id for s in p["skus"]))
