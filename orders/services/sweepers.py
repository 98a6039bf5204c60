"""Beat jobs: expire unpaid orders, and pick up paid orders whose delivery message was lost."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..locks import lock_orders_due_to_expire
from ..models import Order, OrderEvent
from .coupons import release_coupon
from .delivery import enqueue_delivery
from .reservation import release_codes
from .states import transition


def expire_unpaid_orders(*, now=None, limit: int = 500) -> int:
    """Expire unpaid orders past their due time and free their codes; returns how many expired.

    Rows locked by a payment being confirmed right now are skipped and looked at on the next run, so
    an order paid a moment ago is never flipped to expired.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = lock_orders_due_to_expire(now=now, limit=limit)
        for order in due:
            transition(order, Order.Status.EXPIRED, event=OrderEvent.Type.EXPIRED)
            release_codes(order)
            release_coupon(order)
    return len(due)


def sweep_undelivered_orders(*, now=None) -> list[int]:
    """Re-enqueue paid orders still undelivered after a while: a lost message never loses an order."""
    now = now or timezone.now()
    stuck = list(
        Order.objects.filter(status=Order.Status.PAID, paid_at__lte=now - settings.DELIVERY_SWEEP_AFTER)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for order_id in stuck:
        enqueue_delivery(order_id)
    return stuck
