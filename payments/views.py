from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services
from .models import Payment
from .providers import get_provider
from .selectors import get_payment_for_viewer
from .tasks import send_sandbox_notification_task


@csrf_exempt
@require_POST
def notify(request: HttpRequest, provider_code: str) -> HttpResponse:
    """Gateway → us. Answered in the gateway's own words; only a verified notification changes anything."""
    provider = get_provider(provider_code)
    if provider is None:
        raise Http404
    record = services.handle_notification(provider, request)
    accepted = record.result in (record.Result.CONFIRMED, record.Result.DUPLICATE)
    return provider.notification_response(accepted=accepted, message=record.message)


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
            messages.success(request, _("Payment sent. Your codes will appear here in a moment."))
    return redirect(payment.order.get_absolute_url())
