"""Catalog reads: only approved, on-shelf products reach shoppers; stock is the exact count of free codes."""

from collections.abc import Iterable
from typing import NamedTuple

from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from kamen.models import StaffAction
from kamen.money import cny

from . import search
from .models import BuyerField, CardCode, Category, LevelPrice, Product, Sku
from .pricing import viewer_unit_price


def code_count(status: str = CardCode.Status.AVAILABLE, *, sku_ref: str = "pk") -> Coalesce:
    """Codes of one status per Sku row, as a correlated subquery (an index scan per row)."""
    counted = (
        CardCode.objects.filter(sku=OuterRef(sku_ref), status=status)
        .order_by()
        .values("sku")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def stock_count() -> Case:
    """What a Sku row can sell now: its free codes, or for an upstream Sku what its suppliers have
    (summed by the supplier sync)."""
    return Case(
        When(delivery_kind=Sku.DeliveryKind.UPSTREAM, then=F("upstream_stock")),
        default=code_count(),
        output_field=IntegerField(),
    )


def listing(*, category: Category | None = None, query: str = "") -> QuerySet[Product]:
    """Visible products, newest first within their sort order; figures come from `with_figures`."""
    products = Product.objects.visible().select_related("category").order_by("sort_order", "-id")
    if category is not None:
        # A literal id list keeps the listing index usable; an OR across the parent join would not.
        children = Category.objects.filter(parent=category, is_active=True).values_list("pk", flat=True)
        products = products.filter(category_id__in=[category.pk, *children])
    if query:
        # Shoppers search by what they know: the game or service (category), the brand, a nickname.
        named = Q(name__icontains=query) | Q(parent__name__icontains=query)
        categories = list(Category.objects.filter(named, is_active=True).values_list("pk", flat=True))
        products = search.matching(products, query, categories=categories)
    return products


def with_figures(products: list[Product], level=None) -> list[Product]:
    """Set `min_price`, `price_varies` and `has_manual` on one page of products: one grouped query,
    whatever the page size, and two more when `level` (a member level) has prices of its own, which
    then set `min_price` to the level's and `retail_min_price` to the retail one. Stock is not among
    them: list pages fill it in as they are served (`free_codes_by_product`, catalog.live_stock)."""
    ids = [p.pk for p in products]
    prices = {
        product_id: (low, high, manual)
        for product_id, low, high, manual in Sku.objects.filter(product_id__in=ids, is_active=True)
        .order_by()
        .values("product_id")
        .annotate(
            low=Min("price"),
            high=Max("price"),
            manual=Count("id", filter=Q(delivery_kind=Sku.DeliveryKind.MANUAL)),
        )
        .values_list("product_id", "low", "high", "manual")
    }
    for product in products:
        low, high, manual = prices.get(product.pk, (None, None, 0))
        product.min_price = cny(low) if low is not None else None
        # Specs at different prices: the card shows the lowest with 起 ("from").
        product.price_varies = low is not None and high != low
        product.has_manual = manual > 0
        product.retail_min_price = product.min_price
    if level is not None and (level.has_discount or LevelPrice.objects.filter(level=level).exists()):
        _member_figures(products, level)
    return products


def _member_figures(products: list[Product], level) -> None:
    skus = Sku.objects.filter(product_id__in=[p.pk for p in products], is_active=True).prefetch_related(
        Prefetch("level_prices", queryset=LevelPrice.objects.filter(level=level))
    )
    prices: dict[int, list] = {}
    for sku in skus:
        prices.setdefault(sku.product_id, []).append(viewer_unit_price(sku, level))
    for product in products:
        if product.pk in prices:
            product.min_price = min(prices[product.pk])
            product.price_varies = len(set(prices[product.pk])) > 1


def free_codes_by_product(product_ids: Iterable[int]) -> dict[int, int]:
    """What each product's active Skus can sell now, by product id: free codes plus what upstream
    suppliers have (products with nothing are left out). One query: the two counts in a UNION."""
    product_ids = list(product_ids)
    codes = (
        CardCode.objects.filter(sku__product_id__in=product_ids, sku__is_active=True, status=CardCode.Status.AVAILABLE)
        .order_by()
        .values("sku__product_id")
        .annotate(n=Count("id"))
        .values_list("sku__product_id", "n")
    )
    upstream = (
        Sku.objects.filter(
            product_id__in=product_ids, is_active=True, delivery_kind=Sku.DeliveryKind.UPSTREAM, upstream_stock__gt=0
        )
        .order_by()
        .values("product_id")
        .annotate(n=Sum("upstream_stock"))
        .values_list("product_id", "n")
    )
    stock: dict[int, int] = {}
    for product_id, count in codes.union(upstream, all=True):
        stock[product_id] = stock.get(product_id, 0) + count
    return stock


def hot_products(limit: int = 8, level=None) -> list[Product]:
    return with_figures(list(listing().filter(is_hot=True)[:limit]), level)


class SkuStock(NamedTuple):
    free: int  # free codes
    buyable: bool  # whether an order of the product's minimum can be placed now


def sku_stock(product_id: int) -> dict[int, SkuStock]:
    """The stock of each of the product's active Skus, by Sku id, in one query on the primary database
    (a replica's count could be behind)."""
    skus = (
        Sku.objects.using(DEFAULT_DB_ALIAS)
        .filter(product_id=product_id, is_active=True)
        .select_related("product")
        .only("delivery_kind", "upstream_stock", "product__min_per_order")
        .annotate(free=stock_count())
    )
    return {sku.pk: SkuStock(sku.free, sku.can_supply(sku.product.min_per_order, stock=sku.free)) for sku in skus}


def skus_with_stock(product: Product, stock: dict[int, SkuStock] | None = None) -> list[Sku]:
    """The product's active Skus with `stock`, `buyable` and `max_quantity` (what one order may take) set,
    from `stock` (what `sku_stock` says) when given."""
    stock = sku_stock(product.pk) if stock is None else stock
    skus = list(product.skus.filter(is_active=True).prefetch_related("tiers", "level_prices"))
    for sku in skus:
        sku.stock, sku.buyable = stock.get(sku.pk, (0, False))
        sku.max_quantity = product.max_per_order if sku.is_manual else min(product.max_per_order, sku.stock)
    return skus


def get_visible_product(pk: int) -> Product:
    product = Product.objects.visible().select_related("category", "category__parent").filter(pk=pk).first()
    if product is None:
        raise Http404
    return product


def get_buyable_sku(sku_id: int) -> Sku:
    sku = (
        # With the category and its parent: a refused checkout shows the product page's breadcrumb.
        Sku.objects.select_related("product__category__parent")
        .filter(pk=sku_id, is_active=True, product__status=Product.Status.APPROVED, product__is_on_shelf=True)
        .first()
    )
    if sku is None:
        raise Http404
    return sku


def category_tree() -> list[Category]:
    children = Prefetch("children", queryset=Category.objects.filter(is_active=True))
    return list(Category.objects.filter(is_active=True, parent=None).prefetch_related(children))


def get_active_category(slug: str) -> Category:
    category = Category.objects.filter(slug=slug, is_active=True).select_related("parent").first()
    if category is None:
        raise Http404
    return category


def buyer_fields(product: Product) -> list[BuyerField]:
    """What the buyer fills in at checkout for `product`, in order; read once per product instance
    (a checkout's form and its order both ask)."""
    fields = getattr(product, "_buyer_fields", None)
    if fields is None:
        fields = product._buyer_fields = list(product.buyer_fields.order_by("sort_order", "id"))
    return fields


def moderation_history(product: Product, *, limit: int = 5) -> list[StaffAction]:
    """The latest moderation rows of the audit log about a product, newest first, for its admin page."""
    rows = StaffAction.objects.filter(
        kind=StaffAction.Kind.MODERATION,
        target_type=ContentType.objects.get_for_model(Product),
        target_id=str(product.pk),
    )
    return list(rows.select_related("actor")[:limit])
