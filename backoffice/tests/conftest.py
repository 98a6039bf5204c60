"""Fixtures of the back-office tests."""

import datetime

import pytest

from kamen.testing import factories
from orders.models import Order

from .days import at


@pytest.fixture
def buy(django_capture_on_commit_callbacks, sku):
    """A paid, delivered order of `quantity` ¥10.00 codes by `user`, paid at `when` (Shanghai time)."""
    factories.stock(sku, 60, prefix="BUY")

    def make(user, when: datetime.date, *, quantity: int = 1, hour: int = 12) -> Order:
        with at(when, hour), django_capture_on_commit_callbacks(execute=True):
            placed = factories.place_order(sku, quantity=quantity, user=user, email=user.email)
            factories.confirm(placed.payment)
        return Order.objects.get(pk=placed.order.pk)

    return make
