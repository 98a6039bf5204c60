"""Shared fixtures: factories as fixtures, and the PostgreSQL gate for concurrency and money tests."""

import os

import pytest
from django.db import connection
from django.test.utils import override_settings

from kamen import settings as shipped_settings
from kamen.testing import factories
from kamen.testing.database import django_db_setup  # noqa: F401  (one migration per run, copied per process)

FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"

pytest_plugins = [
    "kamen.testing.api",
    "kamen.testing.browser",
    "kamen.testing.gateway",
    "kamen.testing.fake_alipay",
    "kamen.testing.fake_wechat",
]


# The longest tests, started first: a parallel run hands tests out in this order, and a long test
# picked up last keeps its process busy while the others have nothing left to do.
LONGEST_FIRST = (
    "kamen/tests/test_bad_input.py",
    "kamen/tests/test_nginx.py",
    "orders/tests/test_outage.py",
    "kamen/tests/test_browser_csp.py",
    "payments/tests/test_browser_checkout.py",
    "orders/tests/test_browser.py",
)


def pytest_collection_modifyitems(config, items):
    """The longest tests first; PostgreSQL-only tests skip on SQLite, and under KAMEN_REQUIRE_POSTGRES
    a skip is a failure."""
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
    on_postgres = connection.vendor == "postgresql"
    if on_postgres:
        return
    if os.environ.get("KAMEN_REQUIRE_POSTGRES") and any(item.get_closest_marker("postgres") for item in items):
        raise pytest.UsageError("KAMEN_REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Hashing is not what most tests test: Argon2 in every factory user would be a large part of the
    suite's time. Tests of the hashing itself ask for `shipped_password_hashing`. (Guest lookup
    passwords keep their keyed hash, which costs nothing.)"""
    with override_settings(PASSWORD_HASHERS=[FAST_HASHER]):
        yield


@pytest.fixture
def shipped_password_hashing(settings):
    """The password hashers the shop ships with (Argon2), for tests of hashing itself."""
    settings.PASSWORD_HASHERS = shipped_settings.PASSWORD_HASHERS


@pytest.fixture
def english(settings):
    """The shop in English, for tests that read its copy."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True, scope="session")
def _eager_celery():
    """Tasks run inline in tests, whatever REDIS_URL says; the worker test starts a real worker itself."""
    from kamen.celery import app

    app.conf.update(task_always_eager=True, task_eager_propagates=True)


@pytest.fixture(autouse=True)
def _not_inside_a_worker():
    """A worker started in this process (the worker test) marks it as one where waiting on a task's
    result would block, and its thread may do so after the test is over; no test runs inside a worker."""
    from celery.result import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True, scope="session")
def _static_files_from_the_source_tree():
    """Pages name static files as they are in static/; hashed names from `collectstatic` are for serving."""
    from django.conf import settings
    from django.test import override_settings

    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        yield


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """A fresh process-local cache per test: rate-limit counters and cached navigation never leak."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    from kamen.cache import LocalCopies

    cache.clear()
    LocalCopies.forget_everywhere()


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    """Job files (exports, codes waiting to be imported) in a directory of the test's own."""
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"


@pytest.fixture
def user_factory():
    return factories.UserFactory


@pytest.fixture
def product_factory():
    return factories.ProductFactory


@pytest.fixture
def sku_factory():
    return factories.SkuFactory


@pytest.fixture
def shopper(db):
    return factories.UserFactory(email="shopper@example.com")


@pytest.fixture
def staff(db):
    return factories.UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def sku(db):
    """An approved, on-shelf Sku at ¥10.00 with five codes in stock."""
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 5)
    return sku


@pytest.fixture
def pay(django_capture_on_commit_callbacks):
    """Confirm a payment as a verified notification would, running what it enqueues on commit."""

    def confirm(payment):
        with django_capture_on_commit_callbacks(execute=True):
            return factories.confirm(payment)

    return confirm


@pytest.fixture
def paid_order(django_capture_on_commit_callbacks):
    """Make a paid order as a verified notification would; delivered unless `deliver=False`.

    `before_payment(order)` runs between checkout and payment (to make the payment late, say).
    """

    def make(sku, quantity=2, *, user=None, method="sandbox", deliver=True, before_payment=None):
        from orders.models import Order
        from payments.services import pay_with_balance

        placed = factories.place_order(sku, method, quantity=quantity, user=user)
        if before_payment:
            before_payment(placed.order)
        with django_capture_on_commit_callbacks(execute=deliver):
            if method == "balance":
                pay_with_balance(placed.payment, user=user)
            else:
                factories.confirm(placed.payment)
        return Order.objects.get(pk=placed.order.pk)

    return make
