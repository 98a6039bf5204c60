"""Holding card codes for an order: taken at checkout, given back on expiry, cancel or a full refund."""

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import alerts
from accounts.models import AlertChannel
from catalog.cache import stock_changed
from catalog.locks import lock_free_codes
from catalog.models import CardCode

from ..models import Order


class CheckoutError(Exception):
    """A checkout refused for a reason the shopper should read; nothing was written."""


class OutOfStock(CheckoutError):
    pass


def reserve_codes(order: Order, count: int) -> int:
    """Hold `count` free codes of the order's Sku for it, or none at all; returns how many were held.

    SKIP LOCKED lets concurrent checkouts take different rows without waiting for each other; the
    conditional UPDATE with its row count is the guard that a code is never held twice.
    """
    if count <= 0:
        return 0
    code_ids = lock_free_codes(order.sku_id, count)
    if len(code_ids) < count:
        return 0
    held = CardCode.objects.filter(id__in=code_ids, status=CardCode.Status.AVAILABLE).update(
        status=CardCode.Status.RESERVED, order=order, reserved_until=order.expires_at
    )
    if held != count:
        # Cannot happen while the rows are locked; if it ever does, undo the whole checkout.
        raise OutOfStock(_("Not enough stock left."))
    stock_changed([order.sku.product_id])
    if order.sku.low_stock_at is not None:
        _alert_if_low(order.sku)
    return held


def _alert_if_low(sku) -> None:
    """Tell staff when a spec's free codes reach its threshold: once a day per spec and channel."""
    free = CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count()
    if free > sku.low_stock_at:
        return
    with translation.override(settings.LANGUAGE_CODE):
        text = _("Low stock: %(sku)s has %(free)s codes left (alert at %(at)s).") % {
            "sku": sku,
            "free": free,
            "at": sku.low_stock_at,
        }
    alerts.alert_staff(AlertChannel.Event.LOW_STOCK, key=f"low-stock:{sku.pk}:{timezone.localdate()}", text=text)


def release_codes(order: Order) -> int:
    released = CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).update(
        status=CardCode.Status.AVAILABLE, order=None, reserved_until=None
    )
    if released:
        stock_changed([order.sku.product_id])
    return released
