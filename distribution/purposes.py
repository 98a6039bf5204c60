"""An order's payment with commissions: orders know nothing of distribution, which sits above them and
takes the order's side of the payments contract through settings.PAYMENT_PURPOSES."""

from orders.models import Order
from orders.purposes import OrderPurpose
from payments.models import Payment, Refund

from .services import accrue_commissions, reverse_commissions


class CommissionedOrderPurpose(OrderPurpose):
    """A payment for an order, as orders define it; confirmed, the buyer's upline earns its
    commissions in the same transaction, and a refund takes them back in proportion."""

    def order_paid(self, order: Order, payment: Payment) -> None:
        accrue_commissions(order, payment=payment)

    def order_refunded(self, order: Order, refund: Refund) -> None:
        reverse_commissions(order, refund)
