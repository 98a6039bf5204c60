"""Order writes: checkout with atomic code reservation, the state machine, delivery, refunds, expiry.

Every move of an order goes through `transition`, inside a transaction, with an OrderEvent row.
"""

from .checkout import PlacedOrder, cancel_order, place_order
from .coupons import CouponChoice, CouponRefused, PricePreview, find_coupon, preview_price, unused_grants
from .delivery import (
    deliver_manually,
    deliver_order,
    enqueue_delivery,
    fail_delivery,
    hold_for_review,
    is_held_for_review,
    mark_paid,
    release_held_order,
    retry_delivery,
)
from .mail import claim_delivery_email, record_delivery_email, sweep_unsent_delivery_emails
from .refunds import (
    approve_refund,
    create_refund,
    decline_refund,
    record_refund,
    refund_refusal,
    request_refund,
    retry_refund,
)
from .reservation import CheckoutError, OutOfStock, release_codes, reserve_codes
from .risk import Buyer, BuyerBlocked, DailyLimitReached, block_buyer, unblock_buyer
from .states import record_event, transition
from .sweepers import expire_unpaid_orders, sweep_undelivered_orders

__all__ = [
    "Buyer",
    "BuyerBlocked",
    "DailyLimitReached",
    "block_buyer",
    "hold_for_review",
    "is_held_for_review",
    "release_held_order",
    "unblock_buyer",
    "CheckoutError",
    "CouponChoice",
    "CouponRefused",
    "OutOfStock",
    "PlacedOrder",
    "PricePreview",
    "approve_refund",
    "cancel_order",
    "claim_delivery_email",
    "create_refund",
    "decline_refund",
    "deliver_manually",
    "deliver_order",
    "enqueue_delivery",
    "expire_unpaid_orders",
    "find_coupon",
    "fail_delivery",
    "mark_paid",
    "place_order",
    "preview_price",
    "record_delivery_email",
    "record_event",
    "record_refund",
    "refund_refusal",
    "release_codes",
    "request_refund",
    "reserve_codes",
    "retry_delivery",
    "retry_refund",
    "sweep_undelivered_orders",
    "sweep_unsent_delivery_emails",
    "transition",
    "unused_grants",
]
