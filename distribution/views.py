"""推广中心: the invite link, the reseller dashboard and its pages. Thin: parse, call a selector or a
service, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.adapter import shop_site
from catalog.models import Product
from catalog.selectors import with_figures
from kamen.parsing import parse_id
from kamen.templatetags.money import yuan

from . import selectors, services
from .cookies import device_id, remember_inviter
from .forms import BindInviterForm, WithdrawalForm
from .models import Commission, LedgerEntry
from .posters import invite_qr_png, render_poster

PAGE_SIZE = 20


def invite_url(code: str, *, product: Product | None = None) -> str:
    url = settings.SITE_URL + reverse("distribution:invite", args=[code])
    return f"{url}?p={product.pk}" if product else url


@never_cache
def invite(request: HttpRequest, code: str) -> HttpResponse:
    """/r/<code>: remember the inviter for a sign-up within 30 days, then show the shop (or the product
    the poster was for). A code that is no one's simply leads to the shop."""
    referrer = services.find_referrer(code)
    product = _visible_product(request.GET.get("p", ""))
    response = redirect(product.get_absolute_url() if product else "catalog:home")
    if referrer is not None and not request.user.is_authenticated:
        remember_inviter(response, referrer.code)
        device_id(request)
    return response


def _visible_product(value: str) -> Product | None:
    product_id = parse_id(value)
    return Product.objects.visible().filter(pk=product_id).first() if product_id else None


def _page(request: HttpRequest, queryset):
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    referrer = services.referrer_for(request.user)
    daily = selectors.daily_earnings(request.user)
    context = {
        "referrer": referrer,
        "balances": selectors.balances_of(request.user),
        "earnings": selectors.earnings(request.user),
        "counts": selectors.downline_counts(request.user),
        "chart": {
            "labels": [f"{day:%m-%d}" for day, _amount in daily],
            "earned": [f"{amount:.2f}" for _day, amount in daily],
            "currency": "¥",
        },
        "best_products": selectors.best_products(request.user),
        "recent": selectors.commissions_of(request.user)[:5],
        "invite_url": invite_url(referrer.code),
        "bind_form": BindInviterForm() if referrer.inviter_id is None else None,
    }
    return render(request, "distribution/dashboard.html", context)


@login_required
def invite_qr(request: HttpRequest) -> HttpResponse:
    referrer = services.referrer_for(request.user)
    response = HttpResponse(invite_qr_png(invite_url(referrer.code)), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_POST
def bind(request: HttpRequest) -> HttpResponse:
    form = BindInviterForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter your inviter's code."))
        return redirect("distribution:dashboard")
    try:
        services.bind_inviter(request.user, form.cleaned_data["code"])
    except services.InviteRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Your inviter is set."))
    return redirect("distribution:dashboard")


@login_required
def team(request: HttpRequest) -> HttpResponse:
    level = request.GET.get("level", "1")
    level = int(level) if level in ("1", "2", "3") else 1
    context = {
        "level": level,
        "counts": selectors.downline_counts(request.user),
        **_page(request, selectors.downline(request.user, level=level)),
    }
    return render(request, "distribution/team.html", context)


@login_required
def team_member(request: HttpRequest, member_id: int) -> HttpResponse:
    member, level = selectors.get_downline_member(request.user, member_id)
    context = {
        "member": member,
        "level": level,
        "commissions": selectors.commissions_of(request.user).filter(buyer=member.user)[:50],
    }
    return render(request, "distribution/team_member.html", context)


@login_required
def commissions(request: HttpRequest) -> HttpResponse:
    filters = {name: request.GET.get(name, "") for name in ("kind", "state", "tier")}
    context = {
        "filters": filters,
        "kinds": Commission.Kind.choices,
        "states": Commission.State.choices,
        **_page(request, selectors.commissions_of(request.user, **filters)),
    }
    return render(request, "distribution/commissions.html", context)


@login_required
def commission(request: HttpRequest, pk: int) -> HttpResponse:
    found = selectors.get_commission(request.user, pk)
    return render(request, "distribution/commission.html", {"commission": found, "entries": found.entries.all()})


@login_required
def ledger(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    context = {
        "kind": kind,
        "kinds": LedgerEntry.Kind.choices,
        "balances": selectors.balances_of(request.user),
        **_page(request, selectors.ledger_of(request.user, kind=kind)),
    }
    return render(request, "distribution/ledger.html", context)


@login_required
def withdrawals(request: HttpRequest) -> HttpResponse:
    form = WithdrawalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            withdrawal = services.request_withdrawal(
                request.user,
                amount=data["amount"],
                method=data["method"],
                account=data["account"],
                account_name=data["account_name"],
            )
        except services.WithdrawalRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, _withdrawal_message(withdrawal))
            return redirect("distribution:withdrawals")
    context = {
        "form": form,
        "balances": selectors.balances_of(request.user),
        "minimum": settings.WITHDRAWAL_MIN,
        "fee_percent": settings.WITHDRAWAL_FEE_PERCENT,
        **_page(request, selectors.withdrawals_of(request.user)),
    }
    return render(request, "distribution/withdrawals.html", context, status=400 if form.errors else 200)


def _withdrawal_message(withdrawal) -> str:
    if withdrawal.state == withdrawal.State.PAID:
        return _("¥%(amount)s is in your wallet.") % {"amount": withdrawal.payout.amount}
    return _("Withdrawal %(number)s asked for: staff will pay it to your Alipay account.") % {
        "number": withdrawal.number
    }


@login_required
def withdrawal(request: HttpRequest, number: str) -> HttpResponse:
    found = selectors.get_withdrawal(request.user, number)
    return render(request, "distribution/withdrawal.html", {"withdrawal": found, "events": found.events.all()})


@login_required
def poster(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:50]
    products = Product.objects.visible().order_by("-pk")
    if query:
        products = products.filter(title__icontains=query)
    return render(request, "distribution/poster.html", {"query": query, **_page(request, products)})


@login_required
def poster_png(request: HttpRequest, product_id: int) -> HttpResponse:
    referrer = services.referrer_for(request.user)
    product = _visible_product(str(product_id))
    if product is None:
        raise Http404
    png = render_poster(
        title=product.title,
        price=_from_price(product),
        invite_url=invite_url(referrer.code, product=product),
        shop_name=str(shop_site().name),
        subtitle=_("Automatic delivery · codes in seconds"),
        cover=_cover(product),
    )
    response = HttpResponse(png, content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="poster-{product.pk}.png"'
    response["Cache-Control"] = "private, max-age=600"
    return response


def _from_price(product: Product) -> str:
    """「¥12.30 起」: the lowest retail price of the product's specs on sale, as its card shows it."""
    (product,) = with_figures([product])
    if product.min_price is None:
        return ""
    return _("%(price)s up") % {"price": yuan(product.min_price)} if product.price_varies else yuan(product.min_price)


def _cover(product: Product) -> bytes | None:
    if not product.image:
        return None
    try:
        with product.image.open("rb") as image:
            return image.read(5 * 1024 * 1024)
    except OSError:
        return None
