import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import WalletEntry
from accounts.services import get_or_create_wallet
from kamen.middleware import takes_raw_body
from kamen.tasks import enqueue

from . import services
from .forms import TopUpForm
from .models import Payment
from .notification_limits import is_oversized
from .providers import available_providers, get_provider, sandbox
from .providers.base import GatewayError, is_phone_browser
from .purposes import get_purpose
from .qr import qr_data_uri
from .selectors import get_payment_for_viewer
from .tasks import send_sandbox_notification_task

logger = logging.getLogger(__name__)

# One-tap amounts beside the free amount field, as shoppers are used to on card shops.
TOPUP_PRESETS = (50, 100, 200, 500)


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


def checkout(request: HttpRequest, trade_no: str) -> HttpResponse:
    """Our payment page (收银台): the gateway's QR code, or a redirect to the gateway's own page.

    Shown after checkout, from the order page's "Pay now" and for wallet top-ups. It only starts a
    gateway trade (safe to repeat); nothing is paid here, and it confirms nothing.
    """
    payment = get_payment_for_viewer(request, trade_no)
    provider = get_provider(payment.provider)
    if provider is None or not provider.resumable:
        raise Http404
    if not services.is_payable(payment):
        return redirect(payment.get_absolute_url())
    try:
        action = services.start_payment(payment, request=request)
    except GatewayError:
        logger.exception("payment %s could not be started at %s", payment.trade_no, payment.provider)
        return render(request, "payments/checkout.html", _payment_context(payment, request), status=503)
    if action.kind != "qr":
        return redirect(action.url)
    context = {**_payment_context(payment, request), "qr_image": qr_data_uri(action.qr_content), "web_url": action.url}
    response = render(request, "payments/checkout.html", context)
    response["Cache-Control"] = "no-store, private"
    return response


def _payment_context(payment: Payment, request: HttpRequest) -> dict:
    purpose = get_purpose(payment.purpose)
    return {
        "payment": payment,
        "purpose": purpose,
        "summary": purpose.summary(payment),
        "payable": services.is_payable(payment),
        "provider": get_provider(payment.provider),
        "phone": is_phone_browser(request),
        "status_url": reverse("payments:status", args=[payment.trade_no]),
    }


def status(request: HttpRequest, trade_no: str) -> JsonResponse:
    """Polled by the payment page until the payment is confirmed or closed."""
    payment = get_payment_for_viewer(request, trade_no)
    return JsonResponse(
        {"state": payment.state, "waiting": payment.state == Payment.State.PENDING, "next": payment.get_absolute_url()}
    )


def _sandbox_payment(request: HttpRequest, trade_no: str) -> Payment:
    if not sandbox.serves(request):
        raise Http404
    payment = get_payment_for_viewer(request, trade_no)
    if payment.provider != "sandbox":
        raise Http404
    return payment


def sandbox_cashier(request: HttpRequest, trade_no: str) -> HttpResponse:
    """The sandbox gateway's cashier page (模拟支付)."""
    payment = _sandbox_payment(request, trade_no)
    context = {**_payment_context(payment, request), "expired": payment.expires_at <= timezone.now()}
    return render(request, "payments/sandbox.html", context)


@require_POST
def sandbox_pay(request: HttpRequest, trade_no: str) -> HttpResponse:
    """The shopper pays at the sandbox gateway; the gateway then calls our notify URL itself."""
    payment = _sandbox_payment(request, trade_no)
    if payment.state == Payment.State.PENDING:
        try:
            trade = sandbox.take_payment(payment)
        except sandbox.CashierRefused as refused:
            messages.error(request, str(refused))
            return redirect("payments:sandbox", payment.trade_no)
        notify_url = settings.SANDBOX_NOTIFY_URL or settings.SITE_URL + reverse("payments:notify", args=["sandbox"])
        # The money is taken: a broker outage delays the notification (reconciliation finds the
        # payment by querying the sandbox), it never turns this page into an error.
        enqueue(send_sandbox_notification_task, trade.trade_no, notify_url)
        payment.refresh_from_db(fields=["state"])
        if payment.state != Payment.State.CONFIRMED:  # the gateway has not called back yet
            if payment.is_topup:
                messages.success(request, _("Payment sent. Your balance will update in a moment."))
            else:
                messages.success(request, _("Payment sent. Your codes will appear here in a moment."))
    return redirect(payment.get_absolute_url())


def _topup_providers(user) -> list:
    return [provider for provider in available_providers(user=user) if provider.resumable]


@login_required
def wallet(request: HttpRequest, *, form: TopUpForm | None = None, status: int = 200) -> HttpResponse:
    """The member's balance, its ledger, and the top-up form."""
    wallet = get_or_create_wallet(request.user)
    page = Paginator(WalletEntry.objects.filter(wallet=wallet).order_by("-id"), 20).get_page(request.GET.get("page"))
    page_range = page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    providers = _topup_providers(request.user)
    context = {
        "wallet": wallet,
        "page": page,
        "page_range": page_range,
        "entries": page.object_list,
        "topup_form": form or (TopUpForm(providers=providers) if providers else None),
        "topup_presets": TOPUP_PRESETS,
    }
    return render(request, "payments/wallet.html", context, status=status)


@login_required
@require_POST
def topup(request: HttpRequest) -> HttpResponse:
    """Open a top-up and send the user to its payment page; the wallet is credited once the gateway confirms."""
    form = TopUpForm(request.POST, providers=_topup_providers(request.user))
    if form.is_valid():
        try:
            payment = services.start_topup(
                request.user, amount=form.cleaned_data["amount"], provider=form.cleaned_data["provider"]
            )
        except services.TopUpError as error:
            form.add_error(None, str(error))
        else:
            return redirect("payments:checkout", payment.trade_no)
    return wallet(request, form=form, status=400)
