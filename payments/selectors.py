from django.http import Http404, HttpRequest

from orders.selectors import can_view_order

from .models import Payment


def get_payment_for_viewer(request: HttpRequest, trade_no: str) -> Payment:
    """A payment, only for the buyer of its order; 404 for anyone else."""
    payment = Payment.objects.select_related("order", "order__sku").filter(trade_no=trade_no).first()
    if payment is None or not can_view_order(request, payment.order):
        raise Http404
    return payment
