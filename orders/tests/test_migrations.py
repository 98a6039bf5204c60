"""Payments that named their order before the layers were set keep their order, read from the new link."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

# Distribution came later and builds on orders and payments: it is not there yet at either point.
BEFORE = [("orders", "0002_order_refunds"), ("payments", "0002_refunds_topups_reconciliation"), ("distribution", None)]
AFTER = [
    ("orders", "0003_orderpayment_event_types"),
    ("payments", "0004_payments_know_nothing_of_orders"),
    ("distribution", None),
]


def migrate(targets):
    """Migrate orders and payments to `targets`, every other app to its latest; returns the models then."""
    executor = MigrationExecutor(connection)
    moved = {app for app, _ in targets}
    targets = [*targets, *(node for node in executor.loader.graph.leaf_nodes() if node[0] not in moved)]
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([node for node in targets if node[1] is not None]).apps


@pytest.fixture
def latest_schema_afterwards(transactional_db):
    """Whatever the test migrated to, the next test finds every app at its latest migration."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.usefixtures("latest_schema_afterwards")
def test_existing_payments_are_linked_to_their_orders_and_keep_what_people_read():
    # given an order and its payment, and a top-up, as they were stored before
    old = migrate(BEFORE)
    user = old.get_model("accounts", "User").objects.create(email="old@example.com")
    category = old.get_model("catalog", "Category").objects.create(name="点卡", slug="old-cards")
    product = old.get_model("catalog", "Product").objects.create(category=category, title="Q币")
    sku = old.get_model("catalog", "Sku").objects.create(product=product, name="10元", price=10)
    now = timezone.now()
    order = old.get_model("orders", "Order").objects.create(
        number="20261201000000000000000001",
        user=user,
        contact_email=user.email,
        sku=sku,
        product_title="Q币",
        sku_name="10元",
        quantity=2,
        unit_price=10,
        total=20,
        payment_method="sandbox",
        expires_at=now + timedelta(minutes=15),
    )
    payment_model = old.get_model("payments", "Payment")
    paid = payment_model.objects.create(order=order, provider="sandbox", amount=20, state="confirmed")
    topup = payment_model.objects.create(purpose="topup", user=user, provider="sandbox", amount=50)

    # when the shop is migrated
    new = migrate(AFTER)

    # then the order's payment is linked from the order, and both payments read as before
    link = new.get_model("orders", "OrderPayment").objects.get()
    assert (link.order_id, link.payment_id) == (order.pk, paid.pk)
    payment_model = new.get_model("payments", "Payment")
    paid = payment_model.objects.get(pk=paid.pk)
    assert (paid.reference, paid.description, paid.user_id) == (order.number, "Q币 10元 × 2", user.pk)
    assert payment_model.objects.get(pk=topup.pk).description == "钱包充值"
