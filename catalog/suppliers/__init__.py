"""Supplier adapter registry: classes listed in settings.SUPPLIER_ADAPTERS, looked up by code."""

from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import BaseSupplierAdapter, SupplierConfig


@cache
def adapter_classes() -> dict[str, type[BaseSupplierAdapter]]:
    classes = [import_string(path) for path in settings.SUPPLIER_ADAPTERS]
    return {adapter.code: adapter for adapter in classes}


def adapter_choices() -> list[tuple[str, str]]:
    return [(code, str(adapter.verbose_name)) for code, adapter in adapter_classes().items()]


def build_adapter(code: str, config: SupplierConfig) -> BaseSupplierAdapter:
    return adapter_classes()[code](config)


@receiver(setting_changed)
def _reset_adapters(*, setting: str, **kwargs) -> None:
    if setting == "SUPPLIER_ADAPTERS":
        adapter_classes.cache_clear()
