"""积分: the member's points and their ledger, the daily check-in, and the points mall."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import points
from accounts.models import PointsEntry

from .models import PointsReward
from .services import CheckoutError, points_mall


@login_required
def points_page(request: HttpRequest) -> HttpResponse:
    account = points.get_or_create_account(request.user)
    entries = PointsEntry.objects.filter(account=account).order_by("-id")
    page = Paginator(entries, 20).get_page(request.GET.get("page"))
    today = timezone.localdate()
    checked_in = account.last_check_in == today
    # Today's check-in continues the run only if yesterday's happened.
    continues = account.last_check_in is not None and (today - account.last_check_in).days == 1
    context = {
        "account": account,
        "checked_in": checked_in,
        "next_check_in": points.check_in_points(account.streak + 1 if continues else 1),
        "rewards": PointsReward.objects.filter(is_active=True).select_related("coupon", "sku__product"),
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "entries": page.object_list,
    }
    return render(request, "orders/points.html", context)


@login_required
@require_POST
def check_in(request: HttpRequest) -> HttpResponse:
    try:
        change = points.check_in(request.user)
    except points.PointsRefused as error:
        messages.info(request, str(error))
    else:
        messages.success(
            request,
            _("Checked in: +%(points)s points, %(days)s days in a row.")
            % {"points": change.entry.points, "days": change.account.streak},
        )
    return redirect("orders:points")


@login_required
@require_POST
def redeem(request: HttpRequest, pk: int) -> HttpResponse:
    reward = get_object_or_404(PointsReward, pk=pk, is_active=True)
    try:
        redemption = points_mall.redeem(reward.pk, user=request.user)
    except (points_mall.RedemptionRefused, CheckoutError) as error:
        messages.error(request, str(error))
        return redirect("orders:points")
    done = _("You got %(reward)s for %(points)s points.") % {"reward": reward.name, "points": redemption.points}
    messages.success(request, done)
    if redemption.order is not None:
        return redirect(redemption.order.get_absolute_url())
    return redirect("orders:points")
