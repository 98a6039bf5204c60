"""Holding card codes for an order: taken at checkout, given back on expiry, cancel or a full refund."""

from django.utils.translation import gettext as _

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
    return held


def release_codes(order: Order) -> int:
    released = CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).update(
        status=CardCode.Status.AVAILABLE, order=None, reserved_until=None
    )
    if released:
        stock_changed([order.sku.product_id])
    return released
