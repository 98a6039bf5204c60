"""The one place a price is computed. Member-level and wholesale prices will join here."""

from dataclasses import dataclass

from djmoney.money import Money

from kamen.money import cny

from .models import Sku


@dataclass(frozen=True)
class Quote:
    sku: Sku
    quantity: int
    unit_price: Money
    total: Money


def quote(sku: Sku, quantity: int, *, user=None) -> Quote:
    """Price `quantity` of `sku` for `user` (None for a guest). Nothing from the browser is trusted."""
    unit_price = cny(sku.price.amount)
    return Quote(sku=sku, quantity=quantity, unit_price=unit_price, total=cny(unit_price.amount * quantity))
