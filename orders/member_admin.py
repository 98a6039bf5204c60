"""Member operations in admin: coupons (their terms, single-use codes made in batches and exported as
CSV, coupons granted into members' accounts, every use as read-only evidence), the member levels
members bought, and the points mall's rewards and redemptions."""

import csv
import re
import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from kamen.admin import ReadOnlyAdmin, ShopAdmin
from kamen.templatetags.money import yuan

from .models import (
    Coupon,
    CouponCode,
    CouponGrant,
    CouponUse,
    LevelPurchase,
    PointsRedemption,
    PointsReward,
    normalize_code,
)
from .services import coupons

PREFIX_PATTERN = re.compile(r"[A-Z0-9-]*")


class GenerateCodesForm(forms.Form):
    count = forms.IntegerField(
        label=gettext_lazy("How many"), min_value=1, max_value=coupons.MAX_CODES_PER_BATCH, initial=100
    )
    prefix = forms.CharField(
        label=gettext_lazy("Prefix"),
        max_length=12,
        required=False,
        help_text=gettext_lazy("Letters or digits put before every code, e.g. VIP."),
    )

    def clean_prefix(self) -> str:
        prefix = normalize_code(self.cleaned_data["prefix"])
        if not PREFIX_PATTERN.fullmatch(prefix):
            raise forms.ValidationError(_("Letters, digits and dashes only."))
        return prefix


class GrantForm(forms.Form):
    emails = forms.CharField(
        label=gettext_lazy("Members' e-mail addresses"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=20_000,
        help_text=gettext_lazy("One per line; each member gets the coupon once."),
    )
    # Sent with the form: reloading or sending it twice grants nothing more.
    request_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_emails(self) -> list[User]:
        addresses = {line.strip().lower() for line in self.cleaned_data["emails"].splitlines() if line.strip()}
        members = list(User.objects.filter(email__in=addresses, is_active=True))
        unknown = addresses - {member.email for member in members}
        if unknown:
            raise forms.ValidationError(
                _("No active member has these addresses: %(emails)s") % {"emails": ", ".join(sorted(unknown)[:20])}
            )
        return members


@admin.register(Coupon)
class CouponAdmin(ShopAdmin):
    list_display = ("name", "terms", "code", "uses", "valid_until", "is_active", "tools")
    list_filter = ("is_active", "kind", "first_order_only")
    search_fields = ("name", "code")
    autocomplete_fields = ("categories", "products", "skus")
    filter_horizontal = ("levels",)
    readonly_fields = ("used_count", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "code", "is_active")}),
        (
            gettext_lazy("What it takes off"),
            {"fields": ("amount_off", "percent_off", "max_discount", "min_spend", "combines_with_member_price")},
        ),
        (
            gettext_lazy("Goods"),
            {
                "fields": ("categories", "products", "skus"),
                "description": gettext_lazy("None chosen: every product. Otherwise the goods any of these name."),
            },
        ),
        (gettext_lazy("Who may use it"), {"fields": ("levels", "first_order_only", "uses_per_member")}),
        (gettext_lazy("Limits"), {"fields": ("total_uses", "used_count", "valid_from", "valid_until", "created_at")}),
    )

    @admin.display(description=gettext_lazy("offer"))
    def terms(self, coupon: Coupon) -> str:
        return coupon.terms

    @admin.display(description=gettext_lazy("uses taken"), ordering="used_count")
    def uses(self, coupon: Coupon) -> str:
        return f"{coupon.used_count} / {coupon.total_uses}" if coupon.total_uses is not None else str(coupon.used_count)

    @admin.display(description=gettext_lazy("codes and grants"))
    def tools(self, coupon: Coupon) -> str:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:orders_coupon_generate", args=[coupon.pk]),
            _("Generate codes"),
            reverse("admin:orders_coupon_export", args=[coupon.pk]),
            _("Export codes"),
            reverse("admin:orders_coupon_grant", args=[coupon.pk]),
            _("Grant to members"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        own = [
            path("<int:coupon_id>/generate/", view(self.generate_view), name="orders_coupon_generate"),
            path("<int:coupon_id>/export/", view(self.export_view), name="orders_coupon_export"),
            path("<int:coupon_id>/grant/", view(self.grant_view), name="orders_coupon_grant"),
        ]
        return own + super().get_urls()

    def _coupon(self, request, coupon_id: int, permission: str) -> Coupon:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(Coupon, pk=coupon_id)

    def generate_view(self, request, coupon_id: int):
        """Make a batch of single-use codes; needs `orders.add_couponcode`."""
        coupon = self._coupon(request, coupon_id, "orders.add_couponcode")
        form = GenerateCodesForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            made = coupons.generate_codes(coupon, count=form.cleaned_data["count"], prefix=form.cleaned_data["prefix"])
            done = _("Made %(count)s codes for %(coupon)s.") % {"count": len(made), "coupon": coupon}
            self.message_user(request, done, messages.SUCCESS)
            return redirect(reverse("admin:orders_couponcode_changelist") + f"?coupon__id__exact={coupon.pk}")
        return self._tool_page(request, coupon, form, _("Generate codes for %(coupon)s"), _("Generate"))

    def export_view(self, request, coupon_id: int) -> HttpResponse:
        """The coupon's single-use codes as CSV, with whether each is used; needs `orders.view_couponcode`."""
        coupon = self._coupon(request, coupon_id, "orders.view_couponcode")
        states = dict(
            CouponUse.objects.filter(coupon=coupon, code__isnull=False, state__in=CouponUse.ACTIVE).values_list(
                "code_id", "order__number"
            )
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="coupon-{coupon.pk}-codes-{timezone.localdate()}.csv"'
        response.write("\ufeff")  # so spreadsheet programs read the file as UTF-8
        writer = csv.writer(response)
        writer.writerow([_("code"), _("coupon"), _("used by order")])
        for code in CouponCode.objects.filter(coupon=coupon).order_by("id").iterator():
            writer.writerow([code.code, coupon.name, states.get(code.pk, "")])
        return response

    def grant_view(self, request, coupon_id: int):
        """Give the coupon to members by e-mail address; needs `orders.add_coupongrant`."""
        coupon = self._coupon(request, coupon_id, "orders.add_coupongrant")
        form = GrantForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            reference = f"admin:{form.cleaned_data['request_key']}"
            new = 0
            for member in form.cleaned_data["emails"]:
                _grant, created = coupons.grant_coupon(
                    coupon, member, reason=CouponGrant.Reason.STAFF, reference=reference, actor=request.user
                )
                new += created
            done = _("Granted %(coupon)s to %(count)s members.") % {"coupon": coupon, "count": new}
            self.message_user(request, done, messages.SUCCESS)
            return redirect(reverse("admin:orders_coupongrant_changelist") + f"?coupon__id__exact={coupon.pk}")
        return self._tool_page(request, coupon, form, _("Grant %(coupon)s to members"), _("Grant"))

    def _tool_page(self, request, coupon: Coupon, form: forms.Form, title: str, button: str):
        context = {
            **self.admin_site.each_context(request),
            "title": title % {"coupon": coupon},
            "opts": self.opts,
            "original": coupon,
            "offer": coupon.terms,
            "form": form,
            "button": button,
        }
        return TemplateResponse(request, "admin/orders/coupon/tool.html", context, status=400 if form.errors else 200)


@admin.register(CouponCode)
class CouponCodeAdmin(ReadOnlyAdmin):
    list_display = ("code", "coupon", "created_at")
    list_filter = ("coupon",)
    list_select_related = ("coupon",)
    search_fields = ("=code",)


@admin.register(CouponGrant)
class CouponGrantAdmin(ReadOnlyAdmin):
    list_display = ("coupon", "user", "reason", "actor", "granted_at")
    list_filter = ("reason", "coupon")
    list_select_related = ("coupon", "user", "actor")
    search_fields = ("user__email",)


@admin.register(CouponUse)
class CouponUseAdmin(ReadOnlyAdmin):
    list_display = ("coupon", "order", "user", "code", "state", "use_discount", "created_at")
    list_filter = ("state", "coupon")
    list_select_related = ("coupon", "order", "user", "code")
    search_fields = ("=order__number", "user__email", "=code__code")

    @admin.display(description=gettext_lazy("discount"), ordering="discount")
    def use_discount(self, use: CouponUse) -> str:
        return yuan(use.discount)


@admin.register(LevelPurchase)
class LevelPurchaseAdmin(ReadOnlyAdmin):
    list_display = ("user", "level", "purchase_price", "payment", "payment_state", "created_at")
    list_filter = ("level",)
    list_select_related = ("user", "level", "payment")
    search_fields = ("user__email", "=payment__trade_no")

    @admin.display(description=gettext_lazy("price"), ordering="price")
    def purchase_price(self, purchase: LevelPurchase) -> str:
        return yuan(purchase.price)

    @admin.display(description=gettext_lazy("state"))
    def payment_state(self, purchase: LevelPurchase) -> str:
        return purchase.payment.get_state_display()


@admin.register(PointsReward)
class PointsRewardAdmin(ShopAdmin):
    list_display = ("name", "kind", "points", "stock", "redeemed_count", "per_member", "is_active", "sort_order")
    list_editable = ("is_active", "sort_order")
    list_filter = ("kind", "is_active")
    search_fields = ("name",)
    autocomplete_fields = ("coupon", "sku")
    readonly_fields = ("redeemed_count",)


@admin.register(PointsRedemption)
class PointsRedemptionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "reward", "points", "order")
    list_filter = ("reward",)
    list_select_related = ("user", "reward", "order")
    search_fields = ("user__email", "=order__number")
