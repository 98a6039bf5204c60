from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from accounts.services import InsufficientBalance
from catalog import selectors as catalog_selectors
from kamen.parsing import parse_id
from payments import services as payment_services
from payments.models import Payment, Refund
from payments.providers import available_providers, get_provider

from . import selectors, services
from .forms import CheckoutForm, LookupForm, RefundRequestForm
from .models import Order


def _user(request: HttpRequest):
    return request.user if request.user.is_authenticated else None


@require_POST
def place(request: HttpRequest) -> HttpResponse:
    """Checkout: validate, place the order (codes reserved), then hand over to the payment provider."""
    user = _user(request)
    providers = available_providers(user=user)
    form = CheckoutForm(request.POST, user=user, providers=providers)
    sku = catalog_selectors.get_buyable_sku(parse_id(request.POST.get("sku")) or 0)
    if form.is_valid():
        data = form.cleaned_data
        try:
            payment = services.place_order(
                sku,
                quantity=data["quantity"],
                user=user,
                contact_email=data.get("contact_email", ""),
                lookup_password=data.get("lookup_password", ""),
                payment_method=data["payment_method"],
            )
        except services.CheckoutError as error:
            form.add_error(None, str(error))
        else:
            selectors.grant_session_access(request, payment.order)
            return _start_payment(request, payment)
    from catalog.views import render_product

    return render_product(request, sku.product, form=form, selected_sku=sku, status=400)


def _start_payment(request: HttpRequest, payment) -> HttpResponse:
    provider = get_provider(payment.provider)
    if provider.resumable:
        # Gateways are started on our payment page, which the shopper can come back to.
        return redirect("payments:checkout", payment.trade_no)
    try:
        action = provider.start(payment, request=request)
    except InsufficientBalance:
        services.cancel_order(payment.order, actor=_user(request), reason="insufficient balance")
        messages.error(request, _("Your wallet balance is not enough for this order; the order was cancelled."))
        return redirect(payment.order.sku.product.get_absolute_url())
    return redirect(action.url)


def detail(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.get_order_for_viewer(request, number)
    return _render_order(request, order)


def secret_link(request: HttpRequest, number: str, token: str) -> HttpResponse:
    order = selectors.get_order_by_secret(request, number, token)
    if order.user_id is not None and not request.user.is_authenticated:
        return redirect_to_login(order.get_absolute_url())
    return redirect(order.get_absolute_url())


def status(request: HttpRequest, number: str) -> JsonResponse:
    """Polled by the order page until the codes arrive."""
    order = selectors.get_order_for_viewer(request, number)
    waiting = order.status in (Order.Status.PENDING_PAYMENT, Order.Status.PAID)
    return JsonResponse({"status": order.status, "waiting": waiting})


def _render_order(request: HttpRequest, order: Order) -> HttpResponse:
    payment = order.payments.order_by("-id").first()
    provider = get_provider(payment.provider) if payment else None
    refunds = list(order.refunds.order_by("id"))
    can_pay = (
        order.status == Order.Status.PENDING_PAYMENT
        and payment.state == Payment.State.PENDING
        and payment.expires_at > timezone.now()
        and provider is not None
        and provider.resumable
    )
    response = render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "payment": payment,
            "codes": selectors.delivered_codes(order),
            "waiting": order.status in (Order.Status.PENDING_PAYMENT, Order.Status.PAID),
            "can_pay": can_pay,
            "refunds": refunds,
            "refund_form": RefundRequestForm() if _may_request_refund(order, payment, refunds) else None,
        },
    )
    # Codes are for this buyer only: never kept by a shared cache or the browser's history cache.
    response["Cache-Control"] = "no-store, private"
    return response


def _may_request_refund(order: Order, payment, refunds) -> bool:
    """The buyer may ask for a refund of a paid order with money left to refund and no request open."""
    return (
        payment is not None
        and payment.state == Payment.State.CONFIRMED
        and order.refund_status != Order.RefundStatus.FULL
        and order.status in (*services.UNDELIVERED, Order.Status.DELIVERED)
        and not any(refund.state in Refund.OPEN_FOR_BUYER for refund in refunds)
    )


@require_POST
def request_refund(request: HttpRequest, number: str) -> HttpResponse:
    """The buyer asks for a refund; staff approve or decline it in admin."""
    order = selectors.get_order_for_viewer(request, number)
    form = RefundRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return redirect(order.get_absolute_url())
    try:
        payment_services.request_refund(order, user=_user(request), reason=form.cleaned_data["reason"])
    except payment_services.RefundError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Your refund request was sent. Staff will reply on this page."))
    return redirect(order.get_absolute_url())


@require_POST
def cancel(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.get_order_for_viewer(request, number)
    if order.status == Order.Status.PENDING_PAYMENT:
        services.cancel_order(order, actor=_user(request), reason="cancelled by buyer")
        messages.info(request, _("The order was cancelled."))
    return redirect(order.get_absolute_url())


@ratelimit(key="ip", rate=lambda group, request: settings.ORDER_LOOKUP_RATE, method="POST", block=True)
def lookup(request: HttpRequest) -> HttpResponse:
    """Guest order lookup: order number + contact e-mail + lookup password, rate-limited per IP."""
    form = LookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        order = selectors.find_order_for_lookup(**form.cleaned_data)
        if order is not None:
            selectors.grant_session_access(request, order)
            return redirect(order.get_absolute_url())
        form.add_error(None, _("No order matches these details."))
    return render(request, "orders/lookup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    page = selectors.orders_of_user(request.user, page=request.GET.get("page"))
    page_range = page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    return render(request, "orders/mine.html", {"page": page, "page_range": page_range, "orders": page.object_list})
