"""The one place a price is computed: retail, the viewer's member-level price (a discount, or a fixed
price staff set per SKU for the level: 代理价), and the wholesale price for the quantity (批发价).
Level price and wholesale price do not stack: the lower unit price wins."""

from dataclasses import dataclass

from djmoney.money import Money

from accounts.models import MemberLevel
from accounts.selectors import level_of
from kamen.money import cny

from .models import Sku, WholesaleTier

WHOLESALE = "wholesale"
LEVEL = "level"


@dataclass(frozen=True)
class Quote:
    sku: Sku
    quantity: int
    retail_unit_price: Money
    unit_price: Money
    total: Money
    applied: str = ""  # WHOLESALE, LEVEL, or "" for retail
    wholesale_from: int | None = None  # the tier's quantity, when a wholesale price applies
    level: MemberLevel | None = None  # the level whose price applies
    level_fixed: bool = False  # the level's price is one staff set for this SKU, not its discount

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
            "applied": self.applied,
            "wholesale_from": self.wholesale_from,
            "level": self.level.name if self.level else None,
            "level_discount": str(self.level.discount) if self.level and not self.level_fixed else None,
            "saving": str(self.saving.amount),
            "total": str(self.total.amount),
        }


def wholesale_tier(tiers: list[WholesaleTier], quantity: int, retail: Money) -> WholesaleTier | None:
    """The tier with the lowest unit price that `quantity` reaches and that is below `retail`."""
    reached = [tier for tier in tiers if tier.min_quantity <= quantity and tier.unit_price < retail]
    return min(reached, key=lambda tier: (tier.unit_price.amount, -tier.min_quantity), default=None)


def level_price(sku: Sku, level: MemberLevel | None) -> tuple[Money | None, bool]:
    """The unit price of `sku` at `level` when it is below retail, and whether staff fixed it for the SKU."""
    if level is None:
        return None, False
    retail = cny(sku.price.amount)
    fixed = next((price for price in sku.level_prices.all() if price.level_id == level.pk), None)
    if fixed is not None:
        unit = cny(fixed.unit_price.amount)
        return (unit, True) if unit < retail else (None, False)
    unit = cny(retail.amount * level.discount)  # rounded half up to the fen, once
    return (unit, False) if unit < retail else (None, False)


def viewer_unit_price(sku: Sku, level: MemberLevel | None) -> Money:
    """What one piece costs this viewer before any wholesale price: shown on product pages."""
    unit, _ = level_price(sku, level)
    return unit or cny(sku.price.amount)


def quote(sku: Sku, quantity: int, *, user=None, level: MemberLevel | None = None) -> Quote:
    """Price `quantity` of `sku` for `user` (None for a guest). Nothing from the browser is trusted.

    Unit prices are whole fen, so the total is exact; it is rounded once, half up, all the same.
    """
    level = level or level_of(user)
    retail = cny(sku.price.amount)
    unit_price, applied, wholesale_from = retail, "", None
    member_unit, fixed = level_price(sku, level)
    if member_unit is not None:
        unit_price, applied = member_unit, LEVEL
    tier = wholesale_tier(list(sku.tiers.all()), quantity, retail)
    if tier is not None and tier.unit_price < unit_price:
        unit_price, applied, wholesale_from = cny(tier.unit_price.amount), WHOLESALE, tier.min_quantity
    return Quote(
        sku=sku,
        quantity=quantity,
        retail_unit_price=retail,
        unit_price=unit_price,
        total=cny(unit_price.amount * quantity),
        applied=applied,
        wholesale_from=wholesale_from,
        level=level if applied == LEVEL else None,
        level_fixed=fixed and applied == LEVEL,
    )
