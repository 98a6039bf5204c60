"""我的优惠券: the coupons in a member's account, those still to use and those used or expired."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .models import CouponGrant, CouponUse
from .services import unused_grants


@login_required
def my_coupons(request: HttpRequest) -> HttpResponse:
    usable = list(unused_grants(request.user))
    usable_ids = {grant.pk for grant in usable}
    others = [
        grant
        for grant in CouponGrant.objects.filter(user=request.user).select_related("coupon").order_by("-granted_at")[:50]
        if grant.pk not in usable_ids
    ]
    used = set(
        CouponUse.objects.filter(grant__in=others, state__in=CouponUse.ACTIVE).values_list("grant_id", flat=True)
    )
    context = {
        "usable": usable,
        "others": [(grant, grant.pk in used) for grant in others],
        "now": timezone.now(),
    }
    return render(request, "orders/coupons.html", context)
