"""The one place a price is computed: retail, the viewer's member-level price (a discount, or a fixed
price staff set per SKU for the level: 代理价), the wholesale price for the quantity (批发价), and a
coupon (优惠券) on what is left. Level price and wholesale price do not stack: the lower unit price
wins. The coupon applies after, to the goods' total."""

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

from django.utils.translation import gettext
from djmoney.money import Money

from accounts.models import MemberLevel
from accounts.selectors import level_of
from kamen.money import cny

from .models import Sku, WholesaleTier

WHOLESALE = "wholesale"
LEVEL = "level"

# Coupon kinds (the coupon's model lives with orders, which sit above the catalog).
AMOUNT_OFF = "amount_off"  # 满减: an amount off once the goods reach a minimum spend
PERCENT_OFF = "percent_off"  # 折扣券: a percentage off, up to a cap
NO_THRESHOLD = "no_threshold"  # 无门槛: an amount off, whatever the total

# Why a coupon that was asked for takes nothing off.
BELOW_MINIMUM = "below_minimum"
MEMBER_PRICE_LOWER = "member_price_lower"


class CouponTerms(Protocol):
    """What the pricing engine reads of a coupon; whether it may be used at all is checked before."""

    kind: str
    amount_off: Money
    percent_off: int | None
    max_discount: Money | None
    min_spend: Money
    combines_with_member_price: bool


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
    coupon: CouponTerms | None = None  # the coupon that took `coupon_discount` off
    coupon_discount: Money = cny(0)
    coupon_refusal: str = ""  # BELOW_MINIMUM or MEMBER_PRICE_LOWER when a coupon asked for took nothing off

    @property
    def goods_total(self) -> Money:
        """The goods at their unit price, before the coupon."""
        return cny(self.unit_price.amount * self.quantity)

    @property
    def saving(self) -> Money:
        return cny(self.retail_unit_price.amount * self.quantity - self.total.amount)

    @property
    def price_saving(self) -> Money:
        """What the member or wholesale price took off retail, the coupon left out."""
        return cny(self.saving.amount - self.coupon_discount.amount)

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
            "coupon": str(self.coupon) if self.coupon is not None else None,
            "coupon_discount": str(self.coupon_discount.amount),
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


def coupon_discount(coupon: CouponTerms, goods_total: Money) -> Money | None:
    """What `coupon` takes off goods worth `goods_total`, never more than that; None below its minimum."""
    if goods_total < coupon.min_spend:
        return None
    if coupon.kind == PERCENT_OFF:
        off = cny(goods_total.amount * Decimal(coupon.percent_off or 0) / 100)  # rounded half up, once
        if coupon.max_discount is not None and off > coupon.max_discount:
            off = cny(coupon.max_discount.amount)
    else:
        off = cny(coupon.amount_off.amount)
    return min(off, goods_total)


def quote(
    sku: Sku, quantity: int, *, user=None, level: MemberLevel | None = None, coupon: CouponTerms | None = None
) -> Quote:
    """Price `quantity` of `sku` for `user` (None for a guest), with `coupon` if one is given.

    Nothing from the browser is trusted. Unit prices are whole fen, so the goods' total is exact; the
    only rounding is a percentage coupon's, once, half up. A coupon that does not combine with member
    prices is weighed against them: the shopper pays whichever total is lower.
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
    priced = Quote(
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
    return priced if coupon is None else _with_coupon(priced, coupon)


def _with_coupon(priced: Quote, coupon: CouponTerms) -> Quote:
    if priced.applied and not coupon.combines_with_member_price:
        retail = priced.retail_unit_price
        at_retail = replace(
            priced,
            unit_price=retail,
            total=cny(retail.amount * priced.quantity),
            applied="",
            wholesale_from=None,
            level=None,
            level_fixed=False,
        )
        with_coupon = _with_coupon(at_retail, coupon)
        if with_coupon.coupon is not None and with_coupon.total < priced.total:
            return with_coupon
        return replace(priced, coupon_refusal=with_coupon.coupon_refusal or MEMBER_PRICE_LOWER)
    off = coupon_discount(coupon, priced.goods_total)
    if off is None:
        return replace(priced, coupon_refusal=BELOW_MINIMUM)
    return replace(priced, coupon=coupon, coupon_discount=off, total=cny(priced.total.amount - off.amount))


def prices_below_cost(sku: Sku) -> list[tuple[str, Money]]:
    """Every price of `sku` that is below its known cost — retail, each wholesale tier, each member
    level's — as (whose price, the price), for staff to be warned of; none when the cost is unknown."""
    if sku.cost is None:
        return []
    sku = Sku.objects.prefetch_related("tiers", "level_prices").get(pk=sku.pk)  # not a query per level
    cost = cny(sku.cost.amount)
    retail = cny(sku.price.amount)
    below = [(gettext("Retail price"), retail)] if retail < cost else []
    for tier in sku.tiers.all():
        if tier.unit_price < cost:
            below.append((gettext("Wholesale from %(n)s") % {"n": tier.min_quantity}, cny(tier.unit_price.amount)))
    for level in MemberLevel.objects.order_by("rank"):
        unit, _fixed = level_price(sku, level)
        if unit is not None and unit < cost:
            below.append((str(level), unit))
    return below
