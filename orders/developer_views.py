"""API 对接: the member dashboard's pages for the /api/v1/ API — keys, the integration guide, the orders
programs placed, and the callbacks told about them. Thin: parse, call a selector or one service, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.api_keys import MAX_KEYS_PER_MEMBER, NewKey, create_api_key, revoke_api_key, set_allowed_ips
from accounts.models import ApiKey
from kamen import api_signing
from kamen.parsing import parse_id

from . import developer_selectors as selectors
from .developer_forms import AllowedIpsForm, ApiKeyForm
from .services.webhooks import BACKOFF, resend_webhook

PAGE_SIZE = 20
# Every key in use (at most MAX_KEYS_PER_MEMBER) and the latest revoked ones: the list stays short.
SHOWN_KEYS = MAX_KEYS_PER_MEMBER + 20

# The API's stable error codes (kamen.api, orders.api) with their HTTP status, for the guide.
ERROR_CODES = [
    ("VALIDATION_ERROR", 400, gettext_lazy("A field is missing or wrong; error.fields says which.")),
    ("ORDER_REFUSED", 400, gettext_lazy("The shop cannot place this order as asked; the message says why.")),
    (
        "INVALID_SIGNATURE",
        401,
        gettext_lazy(
            "Missing or wrong signature, stale timestamp, reused nonce, revoked key, or an address not in "
            "the key's allow-list; the message says which."
        ),
    ),
    ("INSUFFICIENT_BALANCE", 402, gettext_lazy("Your wallet does not cover the order: top it up, then order again.")),
    ("NOT_FOUND", 404, gettext_lazy("No such product or spec on sale, or no order of yours by that number.")),
    ("OUT_OF_STOCK", 409, gettext_lazy("Not enough stock of the spec for the quantity.")),
    ("DUPLICATE_ORDER", 409, gettext_lazy("Your order number was used before for a different order.")),
    ("RATE_LIMITED", 429, gettext_lazy("Too many requests with this key: wait a moment and retry.")),
]


def _page(request: HttpRequest, queryset) -> dict:
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    }


def _key_rows(keys: list[ApiKey], edited: tuple[ApiKey, AllowedIpsForm] | None) -> list[tuple[ApiKey, AllowedIpsForm]]:
    """Each key with its allow-list form: the one just refused keeps what was typed and its error."""
    rows = []
    for key in keys:
        if edited is not None and edited[0].pk == key.pk:
            rows.append((key, edited[1]))
        else:
            rows.append((key, AllowedIpsForm(initial={"allowed_ips": key.allowed_ips}, auto_id=f"id_key{key.pk}_%s")))
    return rows


def _keys_page(
    request: HttpRequest,
    *,
    form: ApiKeyForm,
    created: NewKey | None = None,
    edited: tuple[ApiKey, AllowedIpsForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "tab": "keys",
        "form": form,
        "created": created,
        "rows": _key_rows(list(selectors.api_keys_of(request.user)[:SHOWN_KEYS]), edited),
        "max_keys": MAX_KEYS_PER_MEMBER,
    }
    return render(request, "orders/developer/keys.html", context, status=status)


@login_required
@never_cache
def keys(request: HttpRequest) -> HttpResponse:
    """The member's keys; a POST makes one, and the page it renders shows its secret, that once."""
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = create_api_key(
                request.user, name=form.cleaned_data["name"], allowed_ips=form.cleaned_data["allowed_ips"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _keys_page(request, form=ApiKeyForm(), created=created)
    return _keys_page(request, form=form, status=400 if form.errors else 200)


@login_required
@require_POST
def revoke_key(request: HttpRequest, pk: int) -> HttpResponse:
    key = revoke_api_key(selectors.get_api_key_of(request.user, pk))
    messages.success(request, _("Key “%(name)s” is revoked: requests signed with it are refused.") % {"name": key.name})
    return redirect("orders:developer")


@login_required
@require_POST
def key_allowed_ips(request: HttpRequest, pk: int) -> HttpResponse:
    key = selectors.get_api_key_of(request.user, pk, active=True)
    form = AllowedIpsForm(request.POST, auto_id=f"id_key{key.pk}_%s")
    if not form.is_valid():
        return _keys_page(request, form=ApiKeyForm(), edited=(key, form), status=400)
    key = set_allowed_ips(key, form.cleaned_data["allowed_ips"])
    if key.networks:
        messages.success(request, _("Key “%(name)s” now works from the listed addresses only.") % {"name": key.name})
    else:
        messages.success(request, _("Key “%(name)s” now works from any address.") % {"name": key.name})
    return redirect("orders:developer")


@login_required
def guide(request: HttpRequest) -> HttpResponse:
    context = {
        "tab": "guide",
        "site_url": settings.SITE_URL,
        "docs_url": settings.SITE_URL + reverse("api:docs"),
        "error_codes": ERROR_CODES,
        "fresh_minutes": api_signing.FRESH_SECONDS // 60,
        "webhook_attempts": len(BACKOFF) + 1,
        "webhook_hours": sum(BACKOFF) // 3600,
        "webhook_timeout": int(settings.API_WEBHOOK_TIMEOUT),
    }
    return render(request, "orders/developer/guide.html", context)


@login_required
def api_orders(request: HttpRequest) -> HttpResponse:
    context = {"tab": "orders", **_page(request, selectors.api_orders_of(request.user))}
    return render(request, "orders/developer/orders.html", context)


@login_required
def webhooks(request: HttpRequest) -> HttpResponse:
    context = {"tab": "webhooks", **_page(request, selectors.webhook_deliveries_of(request.user))}
    return render(request, "orders/developer/webhooks.html", context)


@login_required
@require_POST
def resend(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = resend_webhook(selectors.get_webhook_delivery_of(request.user, pk))
    messages.success(
        request, _("The callback for order %(number)s is being sent again.") % {"number": delivery.order.number}
    )
    page = parse_id(request.POST.get("page"))
    url = reverse("orders:developer_webhooks")
    return redirect(f"{url}?page={page}" if page and page > 1 else url)
