"""Payments admin: read-only. Payments change only through `payments.services`, and notifications are evidence."""

from django.contrib import admin
from django.utils.translation import gettext_lazy

from kamen.admin import ReadOnlyAdmin
from kamen.templatetags.money import yuan

from .models import Payment, PaymentNotification


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = (
        "trade_no",
        "order",
        "provider",
        "paid_amount",
        "state",
        "gateway_trade_no",
        "created_at",
        "confirmed_at",
    )
    list_filter = ("provider", "state", "created_at")
    list_select_related = ("order",)
    search_fields = ("=trade_no", "=gateway_trade_no", "=order__number")
    date_hierarchy = "created_at"
    fields = ("trade_no", "order", "provider", "amount", "state", "gateway_trade_no", "created_at", "confirmed_at")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def paid_amount(self, payment: Payment) -> str:
        return yuan(payment.amount)


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "provider", "payment", "verified", "result", "message", "remote_addr", "received_at")
    list_filter = ("provider", "result", "verified", "received_at")
    list_select_related = ("payment",)
    search_fields = ("=payment__trade_no", "message")
    date_hierarchy = "received_at"
    fields = (*list_display, "headers", "body")
    readonly_fields = fields
