"""The shop settings page in admin: the change form of the one settings row, audited on save."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from kamen import shop_settings
from kamen.admin import ShopAdmin
from kamen.http import client_ip_or_none
from kamen.models import ShopSettings


@admin.register(ShopSettings)
class ShopSettingsAdmin(ShopAdmin):
    """One page, no list: opening the shop settings opens the row; nobody adds or deletes one."""

    fieldsets = (
        (None, {"fields": ("name", "logo", "announcements")}),
        (
            _("After-sales contact"),
            {"fields": ("contact_qq", "contact_wechat", "contact_telegram", "contact_email", "service_hours")},
        ),
        (
            _("Help pages"),
            {
                "fields": ("faq", "faq_en", "terms", "terms_en", "privacy", "privacy_en"),
                "description": _(
                    "Plain text: a blank line starts a new paragraph. Blank English texts show the Chinese."
                ),
            },
        ),
        (_("Orders"), {"fields": ("reservation_minutes",)}),
        (_("Features"), {"fields": ("guest_checkout", "sign_up_open", "daily_check_in", "points_mall")}),
        (None, {"fields": ("updated_at",)}),
    )
    readonly_fields = ("announcements", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        shop = shop_settings.settings_for_edit()
        return HttpResponseRedirect(reverse("admin:kamen_shopsettings_change", args=[shop.pk]))

    def save_model(self, request: HttpRequest, obj: ShopSettings, form, change: bool) -> None:
        shop_settings.update_shop_settings(obj, actor=request.user, ip=client_ip_or_none(request))

    @admin.display(description=_("announcement"))
    def announcements(self, obj: ShopSettings) -> str:
        # Announcements keep their own list (a title, a link, an end date): one place to write them.
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:accounts_announcement_changelist"),
            _("Announcements are written under Accounts › Announcements; they show on the home page and in messages."),
        )
