"""Provider registry: classes listed in settings.PAYMENT_PROVIDERS, loaded once, looked up by code."""

from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import BasePaymentProvider


@cache
def get_providers() -> dict[str, BasePaymentProvider]:
    providers = [import_string(path)() for path in settings.PAYMENT_PROVIDERS]
    return {provider.code: provider for provider in providers}


def get_provider(code: str) -> BasePaymentProvider | None:
    return get_providers().get(code)


def available_providers(*, user) -> list[BasePaymentProvider]:
    return [p for p in get_providers().values() if p.is_available(user=user)]


@receiver(setting_changed)
def _reset_providers(*, setting: str, **kwargs) -> None:
    if setting == "PAYMENT_PROVIDERS":
        get_providers.cache_clear()
