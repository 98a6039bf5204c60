"""Provider registry: classes listed in settings.PAYMENT_PROVIDERS, loaded once, looked up by code."""

from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation
from django.utils.module_loading import import_string

from .base import BasePaymentProvider

# What an order that costs nothing (a 100% coupon, a points reward) is "paid" with: no gateway, no
# provider class, confirmed at once through the same confirmation as every payment.
FREE = "free"

# Every provider the shop ships, enabled or not: old payments keep their provider's name after it is
# switched off (the sandbox in production, a gateway whose contract ended).
SHIPPED_PROVIDERS = {
    "sandbox": "payments.providers.sandbox.SandboxProvider",
    "balance": "payments.providers.balance.BalanceProvider",
    "alipay": "payments.providers.alipay.AlipayProvider",
    "wechat": "payments.providers.wechat.WeChatPayProvider",
}


@cache
def get_providers() -> dict[str, BasePaymentProvider]:
    providers = [import_string(path)() for path in settings.PAYMENT_PROVIDERS]
    return {provider.code: provider for provider in providers}


def get_provider(code: str) -> BasePaymentProvider | None:
    return get_providers().get(code)


def available_providers(*, user) -> list[BasePaymentProvider]:
    return [p for p in get_providers().values() if p.is_available(user=user)]


def provider_name(code: str, *, language: str | None = None) -> str:
    """The name shoppers and staff read for provider `code` (支付宝, 余额支付, ...), enabled or not.

    `language` fixes the language for text that outlives the request (ledger notes).
    """
    if code == FREE:
        with translation.override(language or translation.get_language()):
            return translation.gettext("No payment needed")
    provider = get_provider(code)
    if provider is None and code in SHIPPED_PROVIDERS:
        provider = import_string(SHIPPED_PROVIDERS[code])
    if provider is None:
        return code
    with translation.override(language or translation.get_language()):
        return str(provider.verbose_name)


@receiver(setting_changed)
def _reset_providers(*, setting: str, **kwargs) -> None:
    if setting == "PAYMENT_PROVIDERS":
        get_providers.cache_clear()
