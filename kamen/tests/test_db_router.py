"""The read replica for catalog pages: off by default, and never the source of a stock count."""

import pytest
from django.db import connections

from catalog import cache as catalog_cache
from catalog.models import CardCode, Category, Product, Sku
from kamen.db_router import CatalogReplicaRouter
from orders.models import Order

router = CatalogReplicaRouter()


@pytest.fixture
def replica(monkeypatch):
    """A replica alias beside the primary, as DATABASE_REPLICA_URL makes one."""
    monkeypatch.setitem(connections.databases, "replica", {**connections.databases["default"]})


def test_without_a_replica_every_read_goes_to_the_primary():
    assert "replica" not in connections.databases
    assert {router.db_for_read(model) for model in (Product, Sku, CardCode, Order)} == {None}


@pytest.mark.usefixtures("replica")
def test_catalog_rows_are_read_from_the_replica_and_codes_orders_and_writes_from_the_primary():
    assert [router.db_for_read(model) for model in (Category, Product, Sku)] == ["replica"] * 3
    assert router.db_for_read(CardCode) is None and router.db_for_read(Order) is None  # stock, orders: exact
    assert router.db_for_write(Product) == "default"
    assert router.allow_migrate("replica", "catalog") is False


@pytest.mark.usefixtures("replica")
def test_reads_inside_a_transaction_stay_on_the_primary(db):
    assert connections["default"].in_atomic_block
    assert router.db_for_read(Product) is None


@pytest.mark.usefixtures("replica")
def test_with_a_replica_a_catalog_change_starts_one_more_generation_once_it_has_caught_up(
    db, django_capture_on_commit_callbacks
):
    before = catalog_cache.generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        catalog_cache.catalog_changed()

    # now, at commit, and the task sent REPLICA_LAG_SECONDS later (tasks run at once in tests)
    assert len(callbacks) == 2 and catalog_cache.generation() == before + 3
