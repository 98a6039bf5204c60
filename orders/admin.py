"""Orders admin: a read-only order history, the staff queue where people finish what code could not, and
refunds, which staff decide here.

Nothing here edits an order or a refund directly; every button calls `orders.services`.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kamen.admin import ReadOnlyAdmin, ReadOnlyInline, ShopAdmin
from kamen.money import cny
from kamen.templatetags.money import yuan
from payments import services as payment_services
from payments.models import Refund
from payments.providers import provider_name
from payments.services import RefundError

from . import selectors, services
from .forms_admin import ApproveRefundForm, DeclineRefundForm, ManualDeliveryForm, RefundForm
from .models import STAFF_QUEUE, IllegalTransition, Order, OrderEvent, OrderPayment, StaffQueueOrder
from .supplier_admin import UpstreamPurchaseInline

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
    "buyer_details",
    "unit_price",
    "price_adjustments",
    "total",
    "payment_method_name",
    "created_at",
    "expires_at",
    "paid_at",
    "delivered_at",
    "buyer_ip",
    "device",
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


class OrderDisplayMixin:
    @admin.display(description=gettext_lazy("payment method"), ordering="payment_method")
    def payment_method_name(self, order: Order) -> str:
        return provider_name(order.payment_method)

    @admin.display(description=gettext_lazy("price adjustments"))
    def price_adjustments(self, order: Order) -> str:
        """How the total came below retail, as priced at checkout (「批发价（满10件） −¥5.00」)."""
        if not order.price_adjustments:
            return "—"
        return format_html_join(
            mark_safe("<br>"), "{} −{}", ((what, yuan(amount)) for what, amount in order.price_adjustments)
        )

    @admin.display(description=gettext_lazy("buyer's details"))
    def buyer_details(self, order: Order) -> str:
        """What the buyer filled in at checkout (UID, server, QQ number), which staff need to deliver."""
        if not order.buyer_input:
            return "—"
        return format_html_join(
            mark_safe("<br>"), "{}: <strong>{}</strong>", ((a["label"], a["value"]) for a in order.buyer_input)
        )


def _local(moment) -> str:
    """A moment as the admin shows its own fields: in the shop's time zone and format."""
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT") if moment else "-"


class PaymentInline(ReadOnlyInline):
    """The order's payment attempts, read through its payment links."""

    model = OrderPayment
    verbose_name = gettext_lazy("payment")
    verbose_name_plural = gettext_lazy("payments")
    fields = ("trade_no", "provider", "amount", "state", "gateway_trade_no", "created_at", "confirmed_at", "closed_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payment")

    @admin.display(description=gettext_lazy("our trade number"))
    def trade_no(self, link: OrderPayment) -> str:
        return link.payment.trade_no

    @admin.display(description=gettext_lazy("provider"))
    def provider(self, link: OrderPayment) -> str:
        return provider_name(link.payment.provider)

    @admin.display(description=gettext_lazy("amount"))
    def amount(self, link: OrderPayment) -> str:
        return yuan(link.payment.amount)

    @admin.display(description=gettext_lazy("state"))
    def state(self, link: OrderPayment) -> str:
        return link.payment.get_state_display()

    @admin.display(description=gettext_lazy("gateway trade number"))
    def gateway_trade_no(self, link: OrderPayment) -> str:
        return link.payment.gateway_trade_no

    @admin.display(description=gettext_lazy("created"))
    def created_at(self, link: OrderPayment) -> str:
        return _local(link.payment.created_at)

    @admin.display(description=gettext_lazy("confirmed"))
    def confirmed_at(self, link: OrderPayment) -> str:
        return _local(link.payment.confirmed_at)

    @admin.display(description=gettext_lazy("closed"))
    def closed_at(self, link: OrderPayment) -> str:
        return _local(link.payment.closed_at)


@admin.register(Order)
class OrderAdmin(OrderDisplayMixin, ReadOnlyAdmin):
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
    fields = (*ORDER_FIELDS, "refund_status", "refunded", "refund_list")
    readonly_fields = fields
    inlines = (PaymentInline, UpstreamPurchaseInline, OrderEventInline)
    change_form_template = "admin/orders/order/change_form.html"

    @admin.display(description=gettext_lazy("refunds"))
    def refund_list(self, order: Order) -> str:
        refunds = list(selectors.refunds_of(order).order_by("id"))
        if not refunds:
            return "—"
        return format_html(
            "<br>".join(["{}"] * len(refunds)),
            *(
                format_html(
                    '<a href="{}">{}</a> {} · {} · {}',
                    reverse("admin:payments_refund_change", args=[refund.pk]),
                    refund.refund_no,
                    yuan(refund.amount),
                    refund.get_destination_display(),
                    refund.get_state_display(),
                )
                for refund in refunds
            ),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_refund": request.user.has_perm("payments.add_refund")}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(StaffQueueOrder)
class StaffQueueOrderAdmin(OrderDisplayMixin, ShopAdmin):
    """Orders waiting for a person. Change permission on the queue lets staff deliver or retry."""

    QUEUE = STAFF_QUEUE

    list_display = (
        "number",
        "product_title",
        "sku_name",
        "quantity",
        "buyer_details",
        order_total,
        "status",
        "buyer_level",
        "abnormal_reason",
        "paid_at",
    )
    list_filter = ("status",)
    search_fields = ("=number", "contact_email")
    fields = ORDER_FIELDS
    readonly_fields = ORDER_FIELDS
    inlines = (UpstreamPurchaseInline, OrderEventInline)
    actions = ("retry_stock_delivery", "release_risk_holds")
    change_form_template = "admin/orders/staffqueueorder/change_form.html"

    def get_queryset(self, request):
        # Members of a level with the staff-queue perk first, then the longest waiting.
        queryset = self.model._default_manager.filter(status__in=self.QUEUE).select_related("sku", "user__level")
        queryset = queryset.annotate(priority=Coalesce("user__level__staff_priority", False))
        return queryset.order_by("-priority", "paid_at", "id")

    def get_ordering(self, request):
        return ("-priority", "paid_at", "id")

    @admin.display(description=gettext_lazy("member level"), ordering="priority")
    def buyer_level(self, order: Order) -> str:
        level = order.user.level if order.user_id and order.user.level_id else None
        if level is None:
            return "—"
        return f"{level.badge} {level.name}".strip() if level.staff_priority else level.name

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        deliver = self.admin_site.admin_view(self.deliver_view)
        retry = self.admin_site.admin_view(self.retry_view)
        release = self.admin_site.admin_view(self.release_view)
        return [
            path("<path:object_id>/release/", release, name="orders_staffqueueorder_release"),
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
        order = self.get_object(request, unquote(object_id))
        extra_context["held_for_review"] = order is not None and services.is_held_for_review(order)
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
        if order.sku.is_upstream:
            done = _("Order %(number)s sent to the suppliers again.")
        else:
            done = _("Order %(number)s delivered from stock.")
        self.message_user(request, done % {"number": order.number})
        return True

    @method_decorator(require_POST)
    def release_view(self, request, object_id: str):
        order = self._get_queued(request, object_id)
        if self._release(request, order):
            return redirect("admin:orders_staffqueueorder_changelist")
        return redirect("admin:orders_staffqueueorder_change", order.pk)

    def _release(self, request, order: Order) -> bool:
        try:
            services.release_held_order(order, actor=request.user)
        except IllegalTransition as error:
            self.message_user(request, f"{order.number}: {error}", messages.ERROR)
            return False
        self.message_user(request, _("Order %(number)s released for delivery.") % {"number": order.number})
        return True

    @admin.action(description=gettext_lazy("Release orders held by a risk rule"), permissions=["change"])
    def release_risk_holds(self, request, queryset):
        for order in queryset:
            self._release(request, order)

    @admin.action(description=gettext_lazy("Retry delivery (from stock, or the suppliers)"), permissions=["change"])
    def retry_stock_delivery(self, request, queryset):
        for order in queryset:
            self._retry(request, order)


REFUND_FIELDS = (
    "refund_no",
    "order_number",
    "payment",
    "amount",
    "destination",
    "state",
    "reason",
    "void_codes",
    "staff_note",
    "gateway_refund_id",
    "message",
    "requested_by",
    "decided_by",
    "created_at",
    "decided_at",
    "completed_at",
)


@admin.register(Refund)
class RefundAdmin(ShopAdmin):
    """Refunds, read-only as records. Add permission lets staff refund an order; change permission
    lets them approve, decline or re-send."""

    list_display = ("refund_no", "order_number", "refund_amount", "destination", "state", "reason", "created_at")
    list_filter = ("state", "destination", "created_at")
    list_select_related = ("payment",)
    search_fields = ("=refund_no", "=payment__reference", "=gateway_refund_id")
    date_hierarchy = "created_at"
    fields = REFUND_FIELDS
    readonly_fields = REFUND_FIELDS
    change_form_template = "admin/payments/refund/change_form.html"

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def refund_amount(self, refund: Refund) -> str:
        return yuan(refund.amount)

    @admin.display(description=gettext_lazy("order"), ordering="payment__reference")
    def order_number(self, refund: Refund) -> str:
        return refund.payment.reference

    def has_add_permission(self, request) -> bool:
        return False  # a refund starts from its order: see refund_order_view

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        def view(method):
            return self.admin_site.admin_view(method)

        return [
            path("order/<int:order_id>/", view(self.refund_order_view), name="payments_refund_order"),
            path("<path:object_id>/approve/", view(self.approve_view), name="payments_refund_approve"),
            path("<path:object_id>/decline/", view(self.decline_view), name="payments_refund_decline"),
            path("<path:object_id>/retry/", view(self.retry_view), name="payments_refund_retry"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        refund = self.get_object(request, unquote(object_id))
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "can_act": self.has_change_permission(request, refund),
        }
        if refund is not None and refund.state == Refund.State.REQUESTED:
            extra_context["approve_form"] = ApproveRefundForm(
                initial={"amount": refund.amount.amount, "destination": refund.destination},
                wallet_allowed=refund.payment.user_id is not None,
            )
            extra_context["decline_form"] = DeclineRefundForm()
        return super().change_view(request, object_id, form_url, extra_context)

    def _acted_on(self, request, object_id: str) -> Refund:
        refund = self.get_object(request, unquote(object_id))
        if refund is None:
            raise Http404
        if not self.has_change_permission(request, refund):
            raise PermissionDenied
        return refund

    def _done(self, request, refund: Refund, message: str):
        self.message_user(request, message, messages.SUCCESS)
        return redirect("admin:payments_refund_change", refund.pk)

    def _refused(self, request, refund: Refund, error):
        self.message_user(request, str(error), messages.ERROR)
        return redirect("admin:payments_refund_change", refund.pk)

    @method_decorator(require_POST)
    def approve_view(self, request, object_id: str):
        refund = self._acted_on(request, object_id)
        form = ApproveRefundForm(request.POST, wallet_allowed=refund.payment.user_id is not None)
        if not form.is_valid():
            return self._refused(request, refund, " ".join(e for errors in form.errors.values() for e in errors))
        try:
            services.approve_refund(
                refund,
                actor=request.user,
                amount=form.cleaned_data["amount"],
                destination=form.cleaned_data["destination"],
                void_codes=form.cleaned_data["void_codes"],
            )
        except RefundError as error:
            return self._refused(request, refund, error)
        return self._done(request, refund, _("Refund %(number)s approved and sent.") % {"number": refund.refund_no})

    @method_decorator(require_POST)
    def decline_view(self, request, object_id: str):
        refund = self._acted_on(request, object_id)
        form = DeclineRefundForm(request.POST)
        try:
            if not form.is_valid():
                raise RefundError(_("Say why the refund is declined; the buyer will see it."))
            services.decline_refund(refund, actor=request.user, note=form.cleaned_data["note"])
        except RefundError as error:
            return self._refused(request, refund, error)
        return self._done(request, refund, _("Refund %(number)s declined.") % {"number": refund.refund_no})

    @method_decorator(require_POST)
    def retry_view(self, request, object_id: str):
        refund = self._acted_on(request, object_id)
        try:
            services.retry_refund(refund, actor=request.user)
        except RefundError as error:
            return self._refused(request, refund, error)
        return self._done(request, refund, _("Refund %(number)s sent again.") % {"number": refund.refund_no})

    def refund_order_view(self, request, order_id: int):
        """Staff refund an order fully or partly; needs `payments.add_refund`."""
        if not request.user.has_perm("payments.add_refund"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        payment = selectors.confirmed_payment(order)
        if payment is None:
            self.message_user(request, _("This order has no confirmed payment to refund."), messages.ERROR)
            return redirect("admin:orders_order_change", order.pk)
        available = payment_services.refundable_amount(payment)
        wallet_allowed = payment.user_id is not None
        if request.method == "POST":
            form = RefundForm(request.POST, wallet_allowed=wallet_allowed)
        else:
            form = RefundForm(initial={"amount": available}, wallet_allowed=wallet_allowed)
        if form.is_bound and form.is_valid():
            try:
                refund = services.create_refund(order, actor=request.user, **form.cleaned_data)
            except RefundError as error:
                form.add_error(None, str(error))
            else:
                refund.refresh_from_db()
                return self._done(
                    request,
                    refund,
                    _("Refund %(number)s: %(state)s.")
                    % {"number": refund.refund_no, "state": refund.get_state_display()},
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund order %(number)s") % {"number": order.number},
            "opts": self.opts,
            "order": order,
            "payment": payment,
            "available": yuan(cny(available)),
            "form": form,
            "order_url": reverse("admin:orders_order_change", args=[order.pk]),
        }
        return TemplateResponse(request, "admin/payments/refund/refund_order.html", context)


from . import member_admin  # noqa: E402, F401 - registers the coupon, level and points-mall admins
from .risk_admin import BlockedBuyerAdmin  # noqa: E402, F401 - registers the blacklist admin
