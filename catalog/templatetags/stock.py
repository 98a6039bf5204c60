from django import template

from catalog import live_stock

register = template.Library()


@register.simple_tag
def stock_slot(product, part: str):
    """Where a card's live stock goes ("flag" or "badge"); see catalog.live_stock."""
    return live_stock.slot(product, part)
