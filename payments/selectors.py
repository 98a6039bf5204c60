"""Who may see a payment: whoever its purpose says (the order's buyer, the top-up's owner); 404 for anyone else."""

from django.http import Http404, HttpRequest

from .models import Payment
from .purposes import get_purpose


def get_payment_for_viewer(request: HttpRequest, trade_no: str) -> Payment:
    payment = Payment.objects.filter(trade_no=trade_no).first()
    if payment is None or not get_purpose(payment.purpose).can_view(request, payment):
        raise Http404
    return payment
