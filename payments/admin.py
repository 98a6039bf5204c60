"""Payments admin: payments and notifications are read-only evidence.

Refunds are decided where their purpose lives (orders' admin). The payment list shows which
providers are live.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy

from kamen.admin import ReadOnlyAdmin
from kamen.templatetags.money import yuan

from .models import Payment, PaymentNotification
from .providers import get_providers, provider_name


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    # What fits at 1280 px; the order number (searchable), the gateway's trade number and the confirmation
    # time are on each payment's page.
    list_display = ("trade_no", "purpose", "user", "provider_display", "paid_amount", "state", "created_at")
    list_filter = ("provider", "state", "purpose", "created_at")
    list_select_related = ("user",)
    search_fields = ("=trade_no", "=gateway_trade_no", "=reference", "user__email")
    search_help_text = gettext_lazy("Our or the gateway's trade number, an order number, or part of an e-mail.")
    date_hierarchy = "created_at"
    fields = (
        "trade_no",
        "purpose",
        "reference",
        "description",
        "user",
        "provider_display",
        "amount",
        "state",
        "gateway_trade_no",
        "created_at",
        "expires_at",
        "confirmed_at",
        "closed_at",
    )
    readonly_fields = fields
    change_list_template = "admin/payments/payment/change_list.html"

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def paid_amount(self, payment: Payment) -> str:
        return yuan(payment.amount)

    @admin.display(description=gettext_lazy("provider"), ordering="provider")
    def provider_display(self, payment: Payment) -> str:
        return provider_name(payment.provider)

    def changelist_view(self, request, extra_context=None):
        # Which gateways take money right now, as staff need to know before they answer a buyer.
        live = [
            {
                "code": provider.code,
                "name": provider.verbose_name,
                "available": provider.is_available(user=None) or provider.requires_login,
                "lines": provider.status_lines(),
            }
            for provider in get_providers().values()
        ]
        return super().changelist_view(request, {**(extra_context or {}), "live_providers": live})


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "provider_display", "payment", "verified", "result", "message", "remote_addr", "received_at")
    list_filter = ("provider", "result", "verified", "received_at")
    list_select_related = ("payment",)
    search_fields = ("=payment__trade_no", "message")
    date_hierarchy = "received_at"
    fields = (*list_display, "headers", "body")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("provider"), ordering="provider")
    def provider_display(self, notification: PaymentNotification) -> str:
        return provider_name(notification.provider)
