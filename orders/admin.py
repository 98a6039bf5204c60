"""Orders admin: a read-only order history, and the staff queue where people finish what code could not.

Nothing here edits an order directly; the queue's buttons call `orders.services`.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kamen.admin import ReadOnlyAdmin, ReadOnlyInline, ShopAdmin
from kamen.templatetags.money import yuan
from payments.models import Payment, Refund

from . import services
from .forms_admin import ManualDeliveryForm
from .models import IllegalTransition, Order, OrderEvent, StaffQueueOrder

ORDER_FIELDS = (
    "number",
    "status",
    "abnormal_reason",
    "user",
    "contact_email",
    "sku",
    "product_title",
    "sku_name",
    "quantity",
    "unit_price",
    "total",
    "payment_method",
    "created_at",
    "expires_at",
    "paid_at",
    "delivered_at",
)


@admin.display(description=gettext_lazy("total"), ordering="total")
def order_total(order: Order) -> str:
    return yuan(order.total)


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "type", "from_status", "to_status", "actor", "data")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("trade_no", "provider", "amount", "state", "gateway_trade_no", "created_at", "confirmed_at", "closed_at")
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("refund_no", "amount", "destination", "state", "reason", "created_at", "completed_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Every order, read-only: codes and the buyer's access secrets are never among the fields.

    The Refund button leads to the refund form (needs `payments.add_refund`).
    """

    list_display = (
        "number",
        "product_title",
        "quantity",
        order_total,
        "status",
        "refund_status",
        "contact_email",
        "created_at",
    )
    list_filter = ("status", "refund_status", "payment_method", "created_at")
    search_fields = ("=number", "contact_email")
    search_help_text = gettext_lazy("An exact order number, or part of the contact e-mail.")
    date_hierarchy = "created_at"
    fields = (*ORDER_FIELDS, "refund_status", "refunded")
    readonly_fields = fields
    inlines = (PaymentInline, RefundInline, OrderEventInline)
    change_form_template = "admin/orders/order/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_refund": request.user.has_perm("payments.add_refund")}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(StaffQueueOrder)
class StaffQueueOrderAdmin(ShopAdmin):
    """Orders waiting for a person. Change permission on the queue lets staff deliver or retry."""

    QUEUE = (Order.Status.AWAITING_MANUAL, Order.Status.DELIVERY_FAILED)

    list_display = (
        "number",
        "product_title",
        "sku_name",
        "quantity",
        order_total,
        "status",
        "abnormal_reason",
        "paid_at",
    )
    list_filter = ("status",)
    search_fields = ("=number", "contact_email")
    ordering = ("paid_at", "id")
    fields = ORDER_FIELDS
    readonly_fields = ORDER_FIELDS
    inlines = (OrderEventInline,)
    actions = ("retry_stock_delivery",)
    change_form_template = "admin/orders/staffqueueorder/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status__in=self.QUEUE).select_related("sku")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        deliver = self.admin_site.admin_view(self.deliver_view)
        retry = self.admin_site.admin_view(self.retry_view)
        return [
            path("<path:object_id>/deliver/", deliver, name="orders_staffqueueorder_deliver"),
            path("<path:object_id>/retry/", retry, name="orders_staffqueueorder_retry"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: the page's own save buttons would save nothing, so hide them.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "can_act": self.has_change_permission(request),
            "delivery_form": ManualDeliveryForm(),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _get_queued(self, request, object_id: str) -> Order:
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        return order

    @method_decorator(require_POST)
    def deliver_view(self, request, object_id: str):
        order = self._get_queued(request, object_id)
        form = ManualDeliveryForm(request.POST)
        if not form.is_valid():
            self.message_user(request, " ".join(form.errors["content"]), messages.ERROR)
            return redirect("admin:orders_staffqueueorder_change", order.pk)
        try:
            services.deliver_manually(order, content=form.cleaned_data["content"], actor=request.user)
        except (IllegalTransition, ValueError) as error:
            self.message_user(request, str(error), messages.ERROR)
            return redirect("admin:orders_staffqueueorder_change", order.pk)
        self.message_user(request, _("Order %(number)s delivered.") % {"number": order.number}, messages.SUCCESS)
        return redirect("admin:orders_staffqueueorder_changelist")

    @method_decorator(require_POST)
    def retry_view(self, request, object_id: str):
        order = self._get_queued(request, object_id)
        if self._retry(request, order):
            return redirect("admin:orders_staffqueueorder_changelist")
        return redirect("admin:orders_staffqueueorder_change", order.pk)

    def _retry(self, request, order: Order) -> bool:
        try:
            services.retry_delivery(order, actor=request.user)
        except (services.OutOfStock, IllegalTransition) as error:
            self.message_user(request, f"{order.number}: {error}", messages.ERROR)
            return False
        self.message_user(request, _("Order %(number)s delivered from stock.") % {"number": order.number})
        return True

    @admin.action(description=gettext_lazy("Retry stock delivery"), permissions=["change"])
    def retry_stock_delivery(self, request, queryset):
        for order in queryset:
            self._retry(request, order)
