"""Payment writes: payments and top-ups, gateway notifications, sending refunds, reconciliation.

`confirm_payment` is the only way a payment is confirmed; what that means is its purpose's business.
"""

from .notifications import handle_notification
from .payments import (
    Confirmation,
    PaymentMismatch,
    TopUpError,
    close_payment,
    confirm_free_payment,
    confirm_payment,
    create_payment,
    is_payable,
    pay_with_balance,
    start_payment,
    start_topup,
)
from .reconciliation import Reconciled, ReconcileReport, reconcile_payment, reconcile_pending_payments
from .refunds import (
    RefundError,
    check_refund_amount,
    check_refund_destination,
    execute_refund,
    open_refund,
    record_refund_notification,
    refundable_amount,
    send_after_commit,
    sync_processing_refunds,
)
from .states import IllegalMove, move_payment, move_refund

__all__ = [
    "Confirmation",
    "IllegalMove",
    "PaymentMismatch",
    "ReconcileReport",
    "Reconciled",
    "RefundError",
    "TopUpError",
    "check_refund_amount",
    "check_refund_destination",
    "close_payment",
    "confirm_free_payment",
    "confirm_payment",
    "create_payment",
    "execute_refund",
    "handle_notification",
    "is_payable",
    "move_payment",
    "move_refund",
    "open_refund",
    "pay_with_balance",
    "reconcile_payment",
    "reconcile_pending_payments",
    "record_refund_notification",
    "refundable_amount",
    "send_after_commit",
    "start_payment",
    "start_topup",
    "sync_processing_refunds",
]
