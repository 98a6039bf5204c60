"""What a payment means when it pays for an order or for a member level: their side of the payments
contract."""

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import levels, points
from payments.models import Payment, Refund
from payments.purposes import PaymentPurpose

from .locks import lock_order
from .models import LEVEL_PURPOSE, ORDER_PURPOSE, LevelPurchase, Order, OrderPayment
from .selectors import can_view_order
from .services.delivery import mark_paid
from .services.refunds import record_refund, record_refund_failure


def _order_id(payment: Payment) -> int:
    return OrderPayment.objects.values_list("order_id", flat=True).get(payment_id=payment.pk)


class OrderPurpose(PaymentPurpose):
    """A payment for an order: confirmed, the order is paid and its delivery starts; refunded, it is recorded."""

    code = ORDER_PURPOSE
    verbose_name = _("Order")
    back_label = _("Order details")
    reference_label = _("Order number")

    def payment_confirmed(self, payment: Payment) -> None:
        order = lock_order(_order_id(payment))
        mark_paid(order, payment_id=payment.pk)
        if order.user_id is not None:
            levels.record_paid(order.user_id, payment.amount, reference=order.number)
        self.order_paid(order, payment)

    def refund_succeeded(self, refund: Refund) -> None:
        order = lock_order(_order_id(refund.payment))
        record_refund(order, refund)
        if order.user_id is not None:
            levels.record_refunded(order.user_id, refund.amount, reference=refund.refund_no)
            points.reverse_for_refund(
                order.user,
                order_reference=order.number,
                share=refund.amount.amount / order.total.amount,
                refund_reference=refund.refund_no,
            )
        self.order_refunded(order, refund)

    def order_paid(self, order: Order, payment: Payment) -> None:
        """For apps above orders (commissions): `order` has just been paid by `payment`, in the
        confirming transaction, with the order row locked."""

    def order_refunded(self, order: Order, refund: Refund) -> None:
        """For apps above orders: `refund` of `order` has just moved money back, in the refund's
        transaction, with the order row locked and its refunded total updated."""

    def refund_failed(self, refund: Refund) -> None:
        record_refund_failure(Order.objects.get(pk=_order_id(refund.payment)), refund)

    def is_payable(self, payment: Payment) -> bool:
        return self._order(payment).status == Order.Status.PENDING_PAYMENT

    def is_abandoned(self, payment: Payment) -> bool:
        return self._order(payment).status in (Order.Status.CANCELLED, Order.Status.EXPIRED)

    def can_view(self, request: HttpRequest, payment: Payment) -> bool:
        return can_view_order(request, self._order(payment))

    def next_url(self, payment: Payment) -> str:
        return self._order(payment).get_absolute_url()

    @staticmethod
    def _order(payment: Payment) -> Order:
        # Pages ask several of these questions about one payment: read its order once.
        cached = getattr(payment, "_paid_order", None)
        if cached is None:
            cached = payment._paid_order = Order.objects.get(payment_links__payment=payment)
        return cached


class LevelPurchasePurpose(PaymentPurpose):
    """A member level bought outright: confirmed, the member is moved to it, once."""

    code = LEVEL_PURPOSE
    verbose_name = _("Member level")
    back_label = _("Member levels")

    def payment_confirmed(self, payment: Payment) -> None:
        purchase = LevelPurchase.objects.select_related("level").get(payment=payment)
        levels.grant_bought_level(purchase.user_id, purchase.level, reference=payment.trade_no)

    def next_url(self, payment: Payment) -> str:
        return reverse("orders:levels")

    def summary(self, payment: Payment) -> str:
        purchase = LevelPurchase.objects.select_related("level").get(payment=payment)
        return gettext("Member level: %(level)s") % {"level": purchase.level.name}
