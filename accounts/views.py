from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from payments import services as payment_services
from payments.providers import available_providers

from .forms import TopUpForm
from .models import WalletEntry
from .services import get_or_create_wallet

# One-tap amounts beside the free amount field, as shoppers are used to on card shops.
TOPUP_PRESETS = (50, 100, 200, 500)


def _topup_providers(user) -> list:
    return [provider for provider in available_providers(user=user) if provider.resumable]


@login_required
def wallet(request: HttpRequest, *, form: TopUpForm | None = None, status: int = 200) -> HttpResponse:
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
    return render(request, "accounts/wallet.html", context, status=status)


@login_required
@require_POST
def topup(request: HttpRequest) -> HttpResponse:
    """Open a top-up and send the user to its payment page; the wallet is credited once the gateway confirms."""
    form = TopUpForm(request.POST, providers=_topup_providers(request.user))
    if form.is_valid():
        try:
            payment = payment_services.start_topup(
                request.user, amount=form.cleaned_data["amount"], provider=form.cleaned_data["provider"]
            )
        except payment_services.TopUpError as error:
            form.add_error(None, str(error))
        else:
            return redirect("payments:checkout", payment.trade_no)
    return wallet(request, form=form, status=400)
