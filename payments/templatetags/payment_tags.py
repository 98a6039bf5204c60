from django import template

from payments.providers import provider_name as _provider_name

register = template.Library()


@register.filter
def provider_name(code: str) -> str:
    """A provider code (`alipay`, `balance`) as shoppers and staff read it (支付宝, 余额支付)."""
    return _provider_name(code)
