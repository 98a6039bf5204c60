"""Member levels for shoppers: what each level gives and how to reach it, the member's progress, and
buying a level outright."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import MemberLevel
from accounts.selectors import level_of
from accounts.services import InsufficientBalance
from payments import services as payment_services
from payments.providers import available_providers

from .services import levels as level_services


class BuyLevelForm(forms.Form):
    provider = forms.ChoiceField(label=gettext_lazy("Pay with"), widget=forms.RadioSelect)

    def __init__(self, *args, providers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [(p.code, p.verbose_name) for p in providers]
        if providers:
            self.fields["provider"].initial = providers[0].code


def _providers(user) -> list:
    # The wallet pays at once; gateways through our payment page, which the member can come back to.
    return [p for p in available_providers(user=user) if p.resumable or p.code == "balance"]


def levels(request: HttpRequest, *, form: BuyLevelForm | None = None, status: int = 200) -> HttpResponse:
    """会员等级: every level's price factor and how to reach it; for a member, where they stand."""
    user = request.user if request.user.is_authenticated else None
    current = level_of(user)
    rows = []
    for level in MemberLevel.objects.annotate(fixed_prices=Count("sku_prices")).order_by("rank"):
        refusal = level_services.level_purchase_refusal(level, user=user) if user else None
        rows.append({"level": level, "current": current is not None and level.pk == current.pk, "refusal": refusal})
    upcoming = [
        row["level"]
        for row in rows
        if row["level"].upgrade_at is not None and (current is None or row["level"].rank > current.rank)
    ]
    context = {
        "rows": rows,
        "current": current,
        "next_level": upcoming[0] if upcoming else None,
        "to_next": (upcoming[0].upgrade_at - user.paid_total.amount) if upcoming and user else None,
        "form": form or (BuyLevelForm(providers=_providers(user)) if user else None),
    }
    return render(request, "orders/levels.html", context, status=status)


@login_required
@require_POST
def buy_level(request: HttpRequest, pk: int) -> HttpResponse:
    """Open the payment that buys a level; the wallet pays at once, a gateway on our payment page."""
    level = get_object_or_404(MemberLevel, pk=pk, price__isnull=False)
    form = BuyLevelForm(request.POST, providers=_providers(request.user))
    if not form.is_valid():
        return levels(request, form=form, status=400)
    try:
        payment = level_services.start_level_purchase(level, user=request.user, provider=form.cleaned_data["provider"])
    except level_services.LevelPurchaseRefused as error:
        messages.error(request, str(error))
        return redirect("orders:levels")
    if payment.provider != "balance":
        return redirect("payments:checkout", payment.trade_no)
    try:
        payment_services.pay_with_balance(payment, user=request.user)
    except InsufficientBalance:
        messages.error(request, _("Your wallet balance is not enough; top up first or choose another way to pay."))
        return redirect("orders:levels")
    messages.success(request, _("Welcome to %(level)s!") % {"level": level.name})
    return redirect("orders:levels")
