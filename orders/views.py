from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.dateformat import format as date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from accounts.selectors import level_of
from accounts.services import InsufficientBalance
from catalog import cache as catalog_cache
from catalog import live_stock, pricing, views_counter
from catalog import selectors as catalog_selectors
from catalog.models import Product, Sku
from kamen import captcha, page_cache
from kamen.http import client_ip_or_none, device_fingerprint, device_id
from kamen.money import cny, to_fen
from kamen.parsing import parse_id
from kamen.templatetags.money import yuan
from payments import services as payment_services
from payments.models import Payment
from payments.providers import available_providers, get_provider

from . import selectors, services
from .forms import CheckoutForm, LookupForm, PricePreviewForm, RefundRequestForm
from .models import STAFF_QUEUE, Order, price_adjustments

# Statuses in which the order page keeps polling: the order is about to change without the buyer doing
# anything — at once after payment, or when staff deliver by hand.
WAITING_STATUSES = (Order.Status.PENDING_PAYMENT, Order.Status.PAID, *STAFF_QUEUE)


def _user(request: HttpRequest):
    return request.user if request.user.is_authenticated else None


def product(request: HttpRequest, pk: int) -> HttpResponse:
    """The product page: specs with their stock, and the checkout form; cached for visitors and for the
    members of each level until the catalog changes or one of its specs sells out or comes back, with
    live counts."""
    generation, stock = catalog_cache.product_stock(pk, catalog_selectors.sku_stock)
    parts = ("p", pk, generation, live_stock.shape(stock))

    def page() -> HttpResponse:
        return render_product(request, catalog_selectors.get_visible_product(pk), stock=stock, slots=True)

    response = page_cache.serve(
        request, parts, page, fill=lambda html: live_stock.fill_specs(html, stock), members=True
    )
    if response.status_code == 200:
        views_counter.count_product_view()  # the dashboard's view-to-order conversion
    return response


def render_product(
    request: HttpRequest,
    product: Product,
    *,
    stock: dict[int, catalog_selectors.SkuStock] | None = None,
    slots: bool = False,
    form: CheckoutForm | None = None,
    selected_sku: Sku | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    """The product page with its checkout form; also re-shown with errors by a refused checkout.

    Its counts are those of `stock` (read now when not given); with `slots` they are left as slots
    for the page cache to fill as each copy is served (catalog.live_stock).
    """
    user = _user(request)
    stock = catalog_selectors.sku_stock(product.pk) if stock is None else stock
    skus = catalog_selectors.skus_with_stock(product, stock)
    level = level_of(user)  # a visitor not signed in has the lowest level's prices, so a cached page fits all
    for sku in skus:
        sku.viewer_price = pricing.viewer_unit_price(sku, level)
    if selected_sku is None:
        selected_sku = next((sku for sku in skus if sku.buyable), skus[0] if skus else None)
    else:
        selected_sku = next((sku for sku in skus if sku.pk == selected_sku.pk), selected_sku)
    if form is None:
        form = CheckoutForm(
            user=user,
            providers=available_providers(user=user),
            buyer_fields=catalog_selectors.buyer_fields(product),
            initial={"sku": selected_sku.pk if selected_sku else None, "quantity": product.min_per_order},
        )
    context = {
        "product": product,
        "skus": skus,
        "selected_sku": selected_sku,
        "form": form,
        "refusal": refusal,
        "level": level,
    }
    response = render(request, "catalog/product.html", context, status=status)
    if not slots:
        response.content = live_stock.fill_specs(response.content.decode(), stock)
    return response


@require_POST
def place(request: HttpRequest) -> HttpResponse:
    """Checkout: validate, place the order (codes reserved), then hand over to the payment provider."""
    user = _user(request)
    sku = catalog_selectors.get_buyable_sku(parse_id(request.POST.get("sku")) or 0)
    form = CheckoutForm(
        request.POST,
        user=user,
        providers=available_providers(user=user),
        buyer_fields=catalog_selectors.buyer_fields(sku.product),
    )
    if user is None:
        _check_guest_burst(request, form)
    if form.is_valid():
        data = form.cleaned_data
        try:
            coupon = services.find_coupon(code=data["coupon_code"], grant_id=data["coupon_grant"], user=user)
            # The shopper's access to the new order commits with the order: if the database goes
            # away right after, the order is never one this browser cannot find again.
            with transaction.atomic():
                placed = services.place_order(
                    sku,
                    quantity=data["quantity"],
                    user=user,
                    contact_email=data.get("contact_email", ""),
                    lookup_password=data.get("lookup_password", ""),
                    payment_method=data["payment_method"],
                    buyer_input=form.buyer_input(),
                    coupon=coupon,
                    buyer_ip=client_ip_or_none(request),
                    device=device_fingerprint(device_id(request)),
                )
                selectors.grant_session_access(request, placed.order)
                request.session.save()
        except services.OutOfStock as error:
            return _sold_out(request, sku, str(error))
        except services.CouponRefused as error:
            form.add_error("coupon_code", str(error))
        except services.CheckoutError as error:
            form.add_error(None, str(error))
        else:
            return _start_payment(request, placed)
    # The counts as of the last committed change of the product's codes, as its cached page shows them.
    stock = catalog_cache.product_stock(sku.product_id, catalog_selectors.sku_stock)[1]
    return render_product(request, sku.product, stock=stock, form=form, selected_sku=sku, status=400)


def _check_guest_burst(request: HttpRequest, form: CheckoutForm) -> None:
    """Count a guest checkout from this address; after a burst, the form asks for the security check.

    The product page is cached for every visitor, so the check cannot be on it: the checkout that
    needs one is refused and comes back (not cached) with the check running.
    """
    ip = client_ip_or_none(request)
    if captcha.is_required(captcha.CHECKOUT, ip):
        form.ask_captcha(captcha.CHECKOUT)
    captcha.count_attempt(captcha.CHECKOUT, ip)


@ratelimit(key="ip", rate=lambda group, request: settings.PRICE_PREVIEW_RATE, block=True)
def price_preview(request: HttpRequest) -> JsonResponse:
    """What the order would cost, priced by the server as the shopper changes spec, quantity or coupon."""
    form = PricePreviewForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"error": _("Choose a spec and a quantity.")}, status=400)
    data = form.cleaned_data
    try:
        sku = catalog_selectors.get_buyable_sku(data["sku"])
    except Http404:
        return JsonResponse({"error": _("This spec is not for sale.")}, status=404)
    preview = services.preview_price(
        sku, data["quantity"], user=_user(request), code=data["coupon_code"], grant_id=data["coupon_grant"]
    )
    response = JsonResponse(_preview_json(preview))
    response["Cache-Control"] = "no-store, private"
    return response


def _preview_json(preview: services.PricePreview) -> dict:
    quote = preview.quote
    return {
        "goods": yuan(cny(quote.retail_unit_price.amount * quote.quantity)),
        "lines": [[what, f"−{yuan(amount)}"] for what, amount in price_adjustments(quote.snapshot())],
        "total": yuan(quote.total),
        "total_fen": to_fen(quote.total),
        "coupon": str(quote.coupon) if quote.coupon is not None else "",
        "coupon_error": preview.coupon_refusal,
        "coupons": [
            {
                "grant": item.grant.pk,
                "name": item.grant.coupon.name,
                "saving": yuan(item.saving) if item.saving is not None else "",
                "refusal": item.refusal,
                "until": date_format(localtime(item.grant.coupon.valid_until), "Y-m-d")
                if item.grant.coupon.valid_until
                else "",
            }
            for item in preview.member_coupons
        ],
    }


def _sold_out(request: HttpRequest, sku: Sku, refusal: str) -> HttpResponse:
    """The product page saying it is sold out, with a fresh form: the same answer for every visitor
    who is not signed in until one of the product's specs sells out or comes back, with live counts,
    so during a sale it is rendered once and then served from the cache to the hundreds who came
    too late."""
    generation, stock = catalog_cache.product_stock(sku.product_id, catalog_selectors.sku_stock)
    parts = ("sold-out", sku.pk, generation, live_stock.shape(stock))

    def render_refusal() -> HttpResponse:
        return render_product(
            request, sku.product, stock=stock, slots=True, selected_sku=sku, refusal=refusal, status=409
        )

    return page_cache.serve(
        request, parts, render_refusal, fill=lambda html: live_stock.fill_specs(html, stock), status=409
    )


def _start_payment(request: HttpRequest, placed: services.PlacedOrder) -> HttpResponse:
    if placed.payment.state == Payment.State.CONFIRMED:
        return redirect(placed.order.get_absolute_url())  # it cost nothing: paid already
    provider = get_provider(placed.payment.provider)
    if provider.resumable:
        # Gateways are started on our payment page, which the shopper can come back to.
        return redirect("payments:checkout", placed.payment.trade_no)
    try:
        action = provider.start(placed.payment, request=request)
    except InsufficientBalance:
        services.cancel_order(placed.order, actor=_user(request), reason="insufficient balance")
        messages.error(request, _("Your wallet balance is not enough for this order; the order was cancelled."))
        return redirect(placed.order.sku.product.get_absolute_url())
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
    return JsonResponse({"status": order.status, "waiting": order.status in WAITING_STATUSES})


def _render_order(request: HttpRequest, order: Order) -> HttpResponse:
    payment = selectors.latest_payment(order)
    provider = get_provider(payment.provider) if payment else None
    confirmed = payment if payment and payment.state == Payment.State.CONFIRMED else selectors.confirmed_payment(order)
    can_pay = (
        payment is not None and provider is not None and provider.resumable and payment_services.is_payable(payment)
    )
    may_refund = services.refund_refusal(order, payment=confirmed) is None
    response = render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "payment": payment,
            "codes": selectors.delivered_codes(order),
            "waiting": order.status in WAITING_STATUSES,
            "waiting_for_staff": order.status in STAFF_QUEUE,
            "can_pay": can_pay,
            "refunds": list(selectors.refunds_of(order).order_by("id")),
            "refund_form": RefundRequestForm() if may_refund else None,
        },
    )
    # Codes are for this buyer only: never kept by a shared cache or the browser's history cache.
    response["Cache-Control"] = "no-store, private"
    return response


@require_POST
def request_refund(request: HttpRequest, number: str) -> HttpResponse:
    """The buyer asks for a refund; staff approve or decline it in admin."""
    order = selectors.get_order_for_viewer(request, number)
    form = RefundRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return redirect(order.get_absolute_url())
    try:
        services.request_refund(order, user=_user(request), reason=form.cleaned_data["reason"])
    except payment_services.RefundError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Your refund request was sent. Staff will reply on this page."))
    return redirect(order.get_absolute_url())


@require_POST
def cancel(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.get_order_for_viewer(request, number)
    if order.status == Order.Status.PENDING_PAYMENT:
        # The service looks again under the row lock: a payment confirmed meanwhile wins.
        order = services.cancel_order(order, actor=_user(request), reason="cancelled by buyer")
        if order.status == Order.Status.CANCELLED:
            messages.info(request, _("The order was cancelled."))
        else:
            messages.info(request, _("This order has just been paid, so it was not cancelled."))
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
