"""Stock on cached pages, filled in as each page is served.

List pages: a product card's stock parts (the "auto delivery" flag and the stock badge) are rendered
as slots, HTML comments naming the product; the markup around them may come from a cache of any age.
`fill` reads the free codes of every product on the page and renders each slot: counts come from the
cache under each product's stock version (catalog.cache.free_codes), which every change of its codes
bumps, or else from the database in one query.

Product pages: each spec's count (its stock text, and what one order may take) is a slot that
`fill_specs` fills from the product's stock (catalog.cache.product_stock). What else of the page
depends on stock (which specs can be bought, which are sold out, the one selected) is its `shape`,
which the page's cache key holds.

A product's title or any other text cannot forge a slot: it is escaped, and "<" never reaches the
page as itself.
"""

import re

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from . import selectors
from .cache import free_codes

SLOT = re.compile(r"<!--stock:(flag|badge):(\d+):([01])-->")
SPEC_SLOT = re.compile(r"<!--spec:(free|max):(\d+):(\d+)-->")


def slot(product, part: str) -> SafeString:
    """The slot for one stock part of a card; `product` is one that went through `with_figures`."""
    return mark_safe(f"<!--stock:{part}:{int(product.pk)}:{int(product.has_manual)}-->")  # noqa: S308 - digits only


def fill(html: str) -> str:
    product_ids = {int(match[2]) for match in SLOT.finditer(html)}
    if not product_ids:
        return html
    stock = free_codes(product_ids, selectors.free_codes_by_product)
    flag = format_html('<span class="pcard-flag flag-auto">{}</span>', _("Auto delivery"))
    manual_badge = format_html('<span class="badge badge-manual">{}</span>', _("Manual delivery"))
    sold_out = format_html('<span class="badge badge-soldout">{}</span>', _("Sold out"))
    in_stock = format_html('<span class="badge badge-stock">{}</span>', _("Stock %(n)s"))

    def render(match: re.Match) -> str:
        part, product_id, manual = match[1], int(match[2]), match[3] == "1"
        count = stock.get(product_id, 0)
        if part == "flag":
            return flag if count else ""
        if count:
            return in_stock % {"n": count}
        return manual_badge if manual else sold_out

    return SLOT.sub(render, html)


def spec_slot(sku, part: str, limit: int = 0) -> SafeString:
    """The slot for a spec's free codes ("free"), or for what one order may take ("max", at most `limit`)."""
    return mark_safe(f"<!--spec:{part}:{int(sku.pk)}:{int(limit)}-->")  # noqa: S308 - digits only


def shape(stock: dict[int, selectors.SkuStock]) -> str:
    """What a product page's markup takes from its stock besides the counts: the specs that can be
    bought and those that have codes."""
    return ".".join(
        f"{pk}{'b' if spec.buyable else ''}{'s' if spec.free else ''}" for pk, spec in sorted(stock.items())
    )


def fill_specs(html: str, stock: dict[int, selectors.SkuStock]) -> str:
    def render(match: re.Match) -> str:
        spec = stock.get(int(match[2]))
        free = spec.free if spec else 0
        return str(free if match[1] == "free" else min(free, int(match[3])))

    return SPEC_SLOT.sub(render, html)
