"""Row locks of orders (see kamen.locking for the rules every lock keeps)."""

from datetime import datetime

from kamen.locking import lock_free, lock_one

from .models import Coupon, Order, PointsReward


def lock_order(order_id: int) -> Order:
    """The order row, with its SKU, product and category read (not locked) beside it: what paying for
    it needs (delivery, commission rules) comes in the same statement."""
    return lock_one(Order.objects.select_related("sku__product__category"), pk=order_id)


def lock_orders_due_to_expire(*, now: datetime, limit: int) -> list[Order]:
    """Unpaid orders past their due time that no payment is confirming right now (SKIP LOCKED)."""
    return lock_free(Order.objects.filter(status=Order.Status.PENDING_PAYMENT, expires_at__lte=now), limit=limit)


def lock_coupon(coupon_id: int) -> Coupon:
    """The coupon row: every use of a coupon is taken and given back under it, so its limits are exact."""
    return lock_one(Coupon.objects.all(), pk=coupon_id)


def lock_reward(reward_id: int) -> PointsReward:
    """The points-mall reward row: every redemption of it is taken under it, so stock and limits are exact."""
    return lock_one(PointsReward.objects.select_related("coupon", "sku__product"), pk=reward_id)
