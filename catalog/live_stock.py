"""Stock on list pages, filled in from the database as each page is served.

A product card's stock parts (the "auto delivery" flag and the stock badge) are rendered as slots,
HTML comments naming the product; the markup around them may come from a cache of any age.
`fill` counts the free codes of every product on the page in one query and renders each slot, so
the count a shopper reads is the database's at that moment. A product's title or any other text
cannot forge a slot: it is escaped, and "<" never reaches the page as itself.
"""

import re

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from . import selectors

SLOT = re.compile(r"<!--stock:(flag|badge):(\d+):([01])-->")


def slot(product, part: str) -> SafeString:
    """The slot for one stock part of a card; `product` is one that went through `with_figures`."""
    return mark_safe(f"<!--stock:{part}:{int(product.pk)}:{int(product.has_manual)}-->")  # noqa: S308 - digits only


def fill(html: str) -> str:
    product_ids = {int(match[2]) for match in SLOT.finditer(html)}
    if not product_ids:
        return html
    stock = selectors.free_codes_by_product(product_ids)

    def render(match: re.Match) -> str:
        part, product_id, manual = match[1], int(match[2]), match[3] == "1"
        count = stock.get(product_id, 0)
        if part == "flag":
            return format_html('<span class="pcard-flag flag-auto">{}</span>', _("Auto delivery")) if count else ""
        if count:
            return format_html('<span class="badge badge-stock">{}</span>', _("Stock %(n)s") % {"n": count})
        if manual:
            return format_html('<span class="badge badge-manual">{}</span>', _("Manual delivery"))
        return format_html('<span class="badge badge-soldout">{}</span>', _("Sold out"))

    return SLOT.sub(render, html)
