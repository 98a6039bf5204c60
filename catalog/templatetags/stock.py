from django import template

from catalog import live_stock

register = template.Library()


@register.simple_tag
def stock_slot(product, part: str):
    """Where a card's live stock goes ("flag" or "badge"); see catalog.live_stock."""
    return live_stock.slot(product, part)


@register.simple_tag
def spec_slot(sku, part: str, limit: int = 0):
    """Where a spec's live count goes on the product page ("free", or "max" up to `limit`); see catalog.live_stock."""
    return live_stock.spec_slot(sku, part, limit)
