from django import template

from ..selectors import mask_email as _mask_email

register = template.Library()


@register.filter
def mask_email(value: str) -> str:
    """「ab***@qq.com」: how a reseller sees the members of their downline."""
    return _mask_email(value or "")
