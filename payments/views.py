import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kamen.middleware import takes_raw_body
from orders.models import Order

from . import services
from .models import Payment
from .notification_limits import is_oversized
from .providers import get_provider
from .providers.base import GatewayError, is_phone_browser
from .qr import qr_data_uri
from .selectors import get_payment_for_viewer
from .tasks import send_sandbox_notification_task

logger = logging.getLogger(__name__)


@csrf_exempt
@takes_raw_body  # the service judges and records the body itself, in the gateway's terms
@require_POST
def notify(request: HttpRequest, provider_code: str) -> HttpResponse:
    """Gateway → us. Answered in the gateway's own words; only a verified notification changes anything."""
    provider = get_provider(provider_code)
    if provider is None:
        raise Http404
    record = services.handle_notification(provider, request)
    accepted = record.result in (record.Result.CONFIRMED, record.Result.DUPLICATE, record.Result.REFUND)
    response = provider.notification_response(accepted=accepted, message=record.message)
    if not accepted and is_oversized(request):
        response.status_code = 413
    elif not accepted and record.pk is None:  # a rejection from a source over its limit, not stored
        response.status_code = 429
    return response


def _payable(payment: Payment) -> bool:
    if payment.state != Payment.State.PENDING or payment.expires_at <= timezone.now():
        return False
    return payment.order is None or payment.order.status == Order.Status.PENDING_PAYMENT


def checkout(request: HttpRequest, trade_no: str) -> HttpResponse:
    """Our payment page (收银台): the gateway's QR code, or a redirect to the gateway's own page.

    Shown after checkout, from the order page's "Pay now" and for wallet top-ups. It only starts a
    gateway trade (safe to repeat); nothing is paid here, and it confirms nothing.
    """
    payment = get_payment_for_viewer(request, trade_no)
    provider = get_provider(payment.provider)
    if provider is None or not provider.resumable:
        raise Http404
    if not _payable(payment):
        return redirect(payment.get_absolute_url())
    try:
        action = services.start_payment(payment, request=request)
    except GatewayError:
        logger.exception("payment %s could not be started at %s", payment.trade_no, payment.provider)
        return render(request, "payments/checkout.html", _checkout_context(payment, provider, request), status=503)
    if action.kind != "qr":
        return redirect(action.url)
    context = {
        **_checkout_context(payment, provider, request),
        "qr_image": qr_data_uri(action.qr_content),
        "web_url": action.url,
    }
    response = render(request, "payments/checkout.html", context)
    response["Cache-Control"] = "no-store, private"
    return response


def _checkout_context(payment: Payment, provider, request: HttpRequest) -> dict:
    return {
        "payment": payment,
        "order": payment.order,
        "provider": provider,
        "phone": is_phone_browser(request),
        "status_url": reverse("payments:status", args=[payment.trade_no]),
    }


def status(request: HttpRequest, trade_no: str) -> JsonResponse:
    """Polled by the payment page until the payment is confirmed or closed."""
    payment = get_payment_for_viewer(request, trade_no)
    return JsonResponse(
        {"state": payment.state, "waiting": payment.state == Payment.State.PENDING, "next": payment.get_absolute_url()}
    )


def sandbox_cashier(request: HttpRequest, trade_no: str) -> HttpResponse:
    """The sandbox gateway's cashier page (模拟支付)."""
    if not settings.SANDBOX_PAYMENTS_ENABLED:
        raise Http404
    payment = get_payment_for_viewer(request, trade_no)
    if payment.provider != "sandbox":
        raise Http404
    return render(request, "payments/sandbox.html", {"payment": payment, "order": payment.order})


@require_POST
def sandbox_pay(request: HttpRequest, trade_no: str) -> HttpResponse:
    """The shopper pays at the sandbox gateway; the gateway then calls our notify URL itself."""
    if not settings.SANDBOX_PAYMENTS_ENABLED:
        raise Http404
    payment = get_payment_for_viewer(request, trade_no)
    if payment.provider != "sandbox":
        raise Http404
    if payment.state == Payment.State.PENDING:
        notify_url = settings.SANDBOX_NOTIFY_URL or settings.SITE_URL + reverse("payments:notify", args=["sandbox"])
        send_sandbox_notification_task.delay(payment.pk, notify_url)
        payment.refresh_from_db(fields=["state"])
        if payment.state != Payment.State.CONFIRMED:  # the gateway has not called back yet
            if payment.is_topup:
                messages.success(request, _("Payment sent. Your balance will update in a moment."))
            else:
                messages.success(request, _("Payment sent. Your codes will appear here in a moment."))
    return redirect(payment.get_absolute_url())
