from .coupons import Coupon, CouponCode, CouponGrant, CouponUse, normalize_code
from .level_purchases import LEVEL_PURPOSE, LevelPurchase
from .order import (
    MOVES,
    ORDER_PURPOSE,
    PAID_STATUSES,
    STAFF_QUEUE,
    UNDELIVERED,
    IllegalTransition,
    Order,
    OrderEvent,
    OrderPayment,
    StaffQueueOrder,
    new_access_token,
    new_order_number,
    price_adjustments,
)
from .points_mall import PointsRedemption, PointsReward
from .risk import BlockedBuyer
from .upstream import UpstreamPurchase
from .webhooks import WebhookDelivery

__all__ = [
    "BlockedBuyer",
    "LEVEL_PURPOSE",
    "LevelPurchase",
    "MOVES",
    "ORDER_PURPOSE",
    "PAID_STATUSES",
    "STAFF_QUEUE",
    "UNDELIVERED",
    "Coupon",
    "CouponCode",
    "CouponGrant",
    "CouponUse",
    "IllegalTransition",
    "Order",
    "OrderEvent",
    "OrderPayment",
    "PointsRedemption",
    "PointsReward",
    "StaffQueueOrder",
    "UpstreamPurchase",
    "WebhookDelivery",
    "new_access_token",
    "new_order_number",
    "normalize_code",
    "price_adjustments",
]
