"""The one place a price is computed: retail, then the wholesale price for the quantity (批发价).
Member-level prices join here, and where both apply the lower unit price wins."""

from dataclasses import dataclass

from djmoney.money import Money

from kamen.money import cny

from .models import Sku, WholesaleTier


@dataclass(frozen=True)
class Quote:
    sku: Sku
    quantity: int
    retail_unit_price: Money
    unit_price: Money
    total: Money
    wholesale_from: int | None = None  # the tier's quantity, when a wholesale price applies

    @property
    def saving(self) -> Money:
        return cny(self.retail_unit_price.amount * self.quantity - self.total.amount)

    def snapshot(self) -> dict:
        """What the order keeps of this quote, so a later price change never alters how it was priced."""
        return {
            "currency": self.total.currency.code,
            "quantity": self.quantity,
            "retail_unit_price": str(self.retail_unit_price.amount),
            "unit_price": str(self.unit_price.amount),
            "wholesale_from": self.wholesale_from,
            "saving": str(self.saving.amount),
            "total": str(self.total.amount),
        }


def wholesale_tier(tiers: list[WholesaleTier], quantity: int, retail: Money) -> WholesaleTier | None:
    """The tier with the lowest unit price that `quantity` reaches and that is below `retail`."""
    reached = [tier for tier in tiers if tier.min_quantity <= quantity and tier.unit_price < retail]
    return min(reached, key=lambda tier: (tier.unit_price.amount, -tier.min_quantity), default=None)


def quote(sku: Sku, quantity: int, *, user=None) -> Quote:
    """Price `quantity` of `sku` for `user` (None for a guest). Nothing from the browser is trusted.

    Unit prices are whole fen, so the total is exact; it is rounded once, half up, all the same.
    """
    retail = cny(sku.price.amount)
    tier = wholesale_tier(list(sku.tiers.all()), quantity, retail)
    unit_price = cny(tier.unit_price.amount) if tier else retail
    return Quote(
        sku=sku,
        quantity=quantity,
        retail_unit_price=retail,
        unit_price=unit_price,
        total=cny(unit_price.amount * quantity),
        wholesale_from=tier.min_quantity if tier else None,
    )
