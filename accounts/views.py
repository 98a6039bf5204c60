from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import WalletEntry
from .services import get_or_create_wallet


@login_required
def wallet(request: HttpRequest) -> HttpResponse:
    wallet = get_or_create_wallet(request.user)
    page = Paginator(WalletEntry.objects.filter(wallet=wallet).order_by("-id"), 20).get_page(request.GET.get("page"))
    page_range = page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    context = {"wallet": wallet, "page": page, "page_range": page_range, "entries": page.object_list}
    return render(request, "accounts/wallet.html", context)
