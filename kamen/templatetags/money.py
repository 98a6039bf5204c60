from django import template
from djmoney.money import Money

register = template.Library()


@register.filter
def yuan(value: Money | None) -> str:
    """¥12.30 (and -¥30.00) — the one way amounts are shown."""
    if value is None:
        return ""
    amount = value.amount if isinstance(value, Money) else value
    return f"-¥{-amount:,.2f}" if amount < 0 else f"¥{amount:,.2f}"
