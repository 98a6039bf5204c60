"""Upstream supply on our side of the catalog: the supplier sync, price templates, and which supplier
an upstream Sku asks first.

The sync (beat, every SUPPLIER_SYNC_EVERY seconds) reads each enabled supplier's products, stores
their cost and stock, and for every Sku they supply sets the stock shoppers see (the sum over its
suppliers), the cost, and the retail price its price template makes of that cost. A cost above any
price the Sku sells at takes it off sale and alerts staff; it comes back on sale by itself once the
cost is below again. Products newly found upstream arrive as a product pending review, never on sale.
"""

import logging
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts import alerts
from accounts.models import AlertChannel, MemberLevel
from kamen.money import cny

from .cache import catalog_changed, stock_changed
from .models import Category, LevelPrice, Product, Sku, Supplier, SupplierProduct
from .moderation import queue_found_upstream
from .suppliers import build_adapter
from .suppliers.base import SupplierError, UpstreamProduct

logger = logging.getLogger("catalog.supply")

# Stock the sync counts for a supplier that sells without saying how many it has.
UNLIMITED_STOCK = 999


@dataclass(frozen=True)
class SyncResult:
    supplier: Supplier
    products: int = 0
    new: int = 0
    error: str = ""


def adapter_of(supplier: Supplier):
    return build_adapter(supplier.adapter, supplier.config())


def sync_supplier(supplier: Supplier) -> SyncResult:
    """Read one supplier's products and balance (outside any transaction), then apply them."""
    adapter = adapter_of(supplier)
    try:
        listed = adapter.list_products()
        balance = adapter.balance()
    except SupplierError as error:
        message = str(error)[:300]
        Supplier.objects.filter(pk=supplier.pk).update(sync_error=message)
        logger.warning("supplier %s sync failed: %s", supplier, message)
        return SyncResult(supplier=supplier, error=message)
    with transaction.atomic():
        new = _apply_products(supplier, listed)
        Supplier.objects.filter(pk=supplier.pk).update(balance=cny(balance), synced_at=timezone.now(), sync_error="")
    refresh_upstream_skus(Sku.objects.filter(supplies__supplier=supplier).distinct())
    return SyncResult(supplier=supplier, products=len(listed), new=new)


def _apply_products(supplier: Supplier, listed: list[UpstreamProduct]) -> int:
    now = timezone.now()
    known = {row.code: row for row in SupplierProduct.objects.filter(supplier=supplier)}
    new = 0
    for product in listed:
        row = known.pop(product.code, None)
        fields = {
            "name": product.name[:200],
            "kind": str(product.kind),
            "cost": cny(product.cost),
            "stock": product.stock,
            "available": product.available,
            "synced_at": now,
        }
        if row is None:
            SupplierProduct.objects.create(
                supplier=supplier, code=product.code, sku=_pending_sku(supplier, product), **fields
            )
            new += 1
        else:
            SupplierProduct.objects.filter(pk=row.pk).update(**fields)
    # What the supplier no longer lists cannot be bought there.
    SupplierProduct.objects.filter(pk__in=[row.pk for row in known.values()]).update(available=False, synced_at=now)
    if new:
        catalog_changed()
    return new


def _pending_sku(supplier: Supplier, product: UpstreamProduct) -> Sku:
    """A product newly found upstream: a draft for staff to review, priced by the default template."""
    category = supplier.category or _incoming_category()
    ours = Product.objects.create(
        category=category,
        title=product.name[:120] or product.code,
        status=Product.Status.PENDING,
        is_on_shelf=False,
        description=_("Supplied by %(supplier)s.") % {"supplier": supplier.name},
    )
    sku = Sku(
        product=ours,
        name=_("Standard")[:60],
        delivery_kind=Sku.DeliveryKind.UPSTREAM,
        price_rule=Sku.PriceRule.COST_PERCENT,
        margin=settings.SUPPLIER_DEFAULT_MARGIN_PERCENT,
        price=cny(max(product.cost, Decimal("0.01"))),
        cost=cny(product.cost),
    )
    sku.price = templated_price(sku, product.cost) or sku.price
    sku.save()
    queue_found_upstream(ours, supplier=supplier)
    return sku


def _incoming_category() -> Category:
    category, _created = Category.objects.get_or_create(
        slug=slugify("upstream-new"), defaults={"name": _("New from suppliers"), "is_active": False}
    )
    return category


def templated_price(sku: Sku, cost: Decimal) -> Decimal | None:
    """The retail price the Sku's template makes of `cost`, rounded up to its step; None for a fixed price."""
    if sku.price_rule == Sku.PriceRule.COST_PLUS:
        raw = cost + sku.margin
    elif sku.price_rule == Sku.PriceRule.COST_PERCENT:
        raw = cost * (1 + sku.margin / 100)
    else:
        return None
    step = Decimal(sku.price_step)
    # Up, never down: rounding must not eat the margin.
    return max((raw / step).quantize(Decimal("1"), rounding=ROUND_CEILING) * step, Decimal("0.01"))


def route(sku: Sku, *, exclude: set[int] = frozenset()) -> list[SupplierProduct]:
    """The Sku's suppliers that can sell now, in the order to ask them (excluding supplier ids)."""
    rows = [
        row
        for row in sku.supplies.select_related("supplier")
        if row.supplier.enabled and row.available and row.stock != 0 and row.supplier_id not in exclude
    ]
    if sku.routing == Sku.Routing.CHEAPEST:
        return sorted(rows, key=lambda row: (row.cost.amount, row.priority, row.supplier.priority, row.pk))
    return sorted(rows, key=lambda row: (row.priority, row.supplier.priority, row.cost.amount, row.pk))


def lowest_selling_price(sku: Sku) -> Decimal:
    """The least any buyer pays for one piece: retail, a member level's discount, a fixed level price,
    a wholesale price."""
    retail = sku.price.amount
    prices = [retail]
    factor = MemberLevel.objects.order_by("discount").values_list("discount", flat=True).first()
    if factor is not None:
        prices.append(cny(retail * factor).amount)
    prices += list(LevelPrice.objects.filter(sku=sku).values_list("unit_price", flat=True))
    prices += [tier.unit_price.amount for tier in sku.tiers.all()]
    return min(prices)


def refresh_upstream_skus(skus) -> None:
    """Set stock, cost and templated price of upstream Skus from their suppliers' last sync."""
    changed_products = set()
    for sku in skus.filter(delivery_kind=Sku.DeliveryKind.UPSTREAM):
        if _refresh(sku):
            changed_products.add(sku.product_id)
    if changed_products:
        transaction.on_commit(lambda: stock_changed(changed_products))
        catalog_changed()


def _refresh(sku: Sku) -> bool:
    routes = route(sku)
    stock = sum(UNLIMITED_STOCK if row.stock is None else row.stock for row in routes)
    before = (sku.upstream_stock, sku.cost, sku.price, sku.is_active, sku.halted_reason)
    sku.upstream_stock = min(stock, 2**31 - 1)
    if routes:
        cost = routes[0].cost.amount  # what the first supplier asked would charge
        sku.cost = cny(cost)
        price = templated_price(sku, cost)
        if price is not None:
            sku.price = cny(price)
        _halt_below_cost(sku, cost)
    after = (sku.upstream_stock, sku.cost, sku.price, sku.is_active, sku.halted_reason)
    if after == before:
        return False
    sku.save(update_fields=["upstream_stock", "cost", "price", "is_active", "halted_reason"])
    return True


def _halt_below_cost(sku: Sku, cost: Decimal) -> None:
    lowest = lowest_selling_price(sku)
    if lowest < cost:
        if not sku.halted_reason:
            sku.halted_reason = (_("cost %(cost)s is above the price %(price)s") % {"cost": cost, "price": lowest})[
                :200
            ]
            sku.is_active = False
            text = _("%(sku)s is off sale: the supplier's cost ¥%(cost)s is above its price ¥%(price)s.") % {
                "sku": sku,
                "cost": cost,
                "price": lowest,
            }
            alerts.alert_staff(AlertChannel.Event.SUPPLY, key=f"below-cost:{sku.pk}:{cost}", text=text)
    elif sku.halted_reason:
        sku.halted_reason = ""
        sku.is_active = True


def sync_all_suppliers() -> list[SyncResult]:
    return [sync_supplier(supplier) for supplier in Supplier.objects.filter(enabled=True)]


def set_supplier_secret(supplier: Supplier, secret: str) -> None:
    from . import crypto

    supplier.secret_encrypted = crypto.encrypt(secret) if secret else ""
