"""Payment writes: payments and top-ups, gateway notifications, refunds, reconciliation.

`confirm_payment` is the only way an order becomes paid or a top-up reaches a wallet.
"""

from .notifications import handle_notification
from .payments import (
    Confirmation,
    PaymentMismatch,
    TopUpError,
    close_payment,
    confirm_payment,
    create_payment,
    pay_with_balance,
    start_payment,
    start_topup,
)
from .reconciliation import ReconcileReport, reconcile_payment, reconcile_pending_payments
from .refunds import (
    RefundError,
    approve_refund,
    create_refund,
    decline_refund,
    execute_refund,
    record_refund_notification,
    refundable_amount,
    request_refund,
    retry_refund,
    sync_processing_refunds,
)

__all__ = [
    "Confirmation",
    "PaymentMismatch",
    "ReconcileReport",
    "RefundError",
    "TopUpError",
    "approve_refund",
    "close_payment",
    "confirm_payment",
    "create_payment",
    "create_refund",
    "decline_refund",
    "execute_refund",
    "handle_notification",
    "pay_with_balance",
    "reconcile_payment",
    "reconcile_pending_payments",
    "record_refund_notification",
    "refundable_amount",
    "request_refund",
    "retry_refund",
    "start_payment",
    "start_topup",
    "sync_processing_refunds",
]
