"""Row locks: taken only through kamen.locking, only inside a transaction."""

import re
from pathlib import Path

import pytest

from accounts.locks import lock_wallet
from accounts.services import get_or_create_wallet
from kamen.locking import LockOutsideTransaction
from kamen.testing import factories
from orders.locks import lock_order
from payments.locks import lock_payment

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "catalog", "kamen", "orders", "payments")


def test_nothing_but_the_lock_module_takes_row_locks():
    takers = [
        path.relative_to(ROOT).as_posix()
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "tests" not in path.parts and re.search(r"\bselect_for_update\(", path.read_text())
    ]
    assert takers == ["kamen/locking.py"]


@pytest.mark.django_db(transaction=True)
def test_every_named_lock_refuses_to_run_outside_a_transaction(sku, shopper):
    placed = factories.place_order(sku, quantity=1)
    get_or_create_wallet(shopper)

    for lock in (
        lambda: lock_order(placed.order.pk),
        lambda: lock_payment(placed.payment.pk),
        lambda: lock_wallet(shopper),
    ):
        with pytest.raises(LockOutsideTransaction):
            lock()
