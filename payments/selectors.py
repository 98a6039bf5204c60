from django.http import Http404, HttpRequest

from orders.selectors import can_view_order

from .models import Payment


def get_payment_for_viewer(request: HttpRequest, trade_no: str) -> Payment:
    """A payment, only for the buyer of its order or the owner of its top-up; 404 for anyone else."""
    payment = Payment.objects.select_related("order", "order__sku", "user").filter(trade_no=trade_no).first()
    if payment is None or not _can_view(request, payment):
        raise Http404
    return payment


def _can_view(request: HttpRequest, payment: Payment) -> bool:
    if payment.order_id is not None:
        return can_view_order(request, payment.order)
    return request.user.is_authenticated and payment.user_id == request.user.pk
