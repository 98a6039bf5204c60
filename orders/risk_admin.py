"""The blacklist in admin: staff add, change and remove entries; each change leaves an audit row
(kamen.audit, RISK_RULE) through orders.services."""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy

from kamen.admin import ShopAdmin

from . import services
from .models import BlockedBuyer


@admin.register(BlockedBuyer)
class BlockedBuyerAdmin(ShopAdmin):
    list_display = ("kind", "value", "reason", "expires_at", "is_active", "created_by", "created_at")
    list_filter = ("kind",)
    list_select_related = ("created_by",)
    search_fields = ("value", "reason")
    search_help_text = gettext_lazy("Part of an e-mail, an address or network, a device fingerprint, or the reason.")
    fields = ("kind", "value", "reason", "expires_at", "created_by", "created_at")
    readonly_fields = ("created_by", "created_at")

    @admin.display(description=gettext_lazy("active"), boolean=True)
    def is_active(self, entry: BlockedBuyer) -> bool:
        return entry.expires_at is None or entry.expires_at > timezone.now()

    def save_model(self, request, obj, form, change):
        services.block_buyer(obj, actor=request.user)

    def delete_model(self, request, obj):
        services.unblock_buyer(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        # The bulk "delete selected" action: one audit row per entry, as for a single delete.
        for entry in queryset:
            services.unblock_buyer(entry, actor=request.user)
