"""Payments admin: payments and notifications are read-only evidence; refunds are decided here.

Staff refund an order from its admin page, and approve, decline or re-send refunds; every button
calls `payments.services`. The payment list shows which providers are live.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from djmoney.money import Money

from kamen.admin import ReadOnlyAdmin, ShopAdmin
from kamen.templatetags.money import yuan
from orders.models import Order

from . import services
from .forms_admin import ApproveRefundForm, DeclineRefundForm, RefundForm
from .models import Payment, PaymentNotification, Refund
from .providers import get_providers


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = (
        "trade_no",
        "purpose",
        "order",
        "user",
        "provider",
        "paid_amount",
        "state",
        "gateway_trade_no",
        "created_at",
        "confirmed_at",
    )
    list_filter = ("provider", "state", "purpose", "created_at")
    list_select_related = ("order", "user")
    search_fields = ("=trade_no", "=gateway_trade_no", "=order__number", "user__email")
    date_hierarchy = "created_at"
    fields = (
        "trade_no",
        "purpose",
        "order",
        "user",
        "provider",
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
    list_display = ("id", "provider", "payment", "verified", "result", "message", "remote_addr", "received_at")
    list_filter = ("provider", "result", "verified", "received_at")
    list_select_related = ("payment",)
    search_fields = ("=payment__trade_no", "message")
    date_hierarchy = "received_at"
    fields = (*list_display, "headers", "body")
    readonly_fields = fields


REFUND_FIELDS = (
    "refund_no",
    "order",
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

    list_display = ("refund_no", "order", "refund_amount", "destination", "state", "reason", "created_at")
    list_filter = ("state", "destination", "created_at")
    list_select_related = ("order",)
    search_fields = ("=refund_no", "=order__number", "=gateway_refund_id")
    date_hierarchy = "created_at"
    fields = REFUND_FIELDS
    readonly_fields = REFUND_FIELDS
    change_form_template = "admin/payments/refund/change_form.html"

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def refund_amount(self, refund: Refund) -> str:
        return yuan(refund.amount)

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
                wallet_allowed=refund.order.user_id is not None,
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
        form = ApproveRefundForm(request.POST, wallet_allowed=refund.order.user_id is not None)
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
        except services.RefundError as error:
            return self._refused(request, refund, error)
        return self._done(request, refund, _("Refund %(number)s approved and sent.") % {"number": refund.refund_no})

    @method_decorator(require_POST)
    def decline_view(self, request, object_id: str):
        refund = self._acted_on(request, object_id)
        form = DeclineRefundForm(request.POST)
        try:
            if not form.is_valid():
                raise services.RefundError(_("Say why the refund is declined; the buyer will see it."))
            services.decline_refund(refund, actor=request.user, note=form.cleaned_data["note"])
        except services.RefundError as error:
            return self._refused(request, refund, error)
        return self._done(request, refund, _("Refund %(number)s declined.") % {"number": refund.refund_no})

    @method_decorator(require_POST)
    def retry_view(self, request, object_id: str):
        refund = self._acted_on(request, object_id)
        try:
            services.retry_refund(refund, actor=request.user)
        except services.RefundError as error:
            return self._refused(request, refund, error)
        return self._done(request, refund, _("Refund %(number)s sent again.") % {"number": refund.refund_no})

    def refund_order_view(self, request, order_id: int):
        """Staff refund an order fully or partly; needs `payments.add_refund`."""
        if not request.user.has_perm("payments.add_refund"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        payment = order.payments.filter(state=Payment.State.CONFIRMED).order_by("-id").first()
        if payment is None:
            self.message_user(request, _("This order has no confirmed payment to refund."), messages.ERROR)
            return redirect("admin:orders_order_change", order.pk)
        available = services.refundable_amount(payment)
        wallet_allowed = order.user_id is not None
        if request.method == "POST":
            form = RefundForm(request.POST, wallet_allowed=wallet_allowed)
        else:
            form = RefundForm(initial={"amount": available}, wallet_allowed=wallet_allowed)
        if form.is_bound and form.is_valid():
            try:
                refund = services.create_refund(order, actor=request.user, **form.cleaned_data)
            except services.RefundError as error:
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
            "available": yuan(Money(available, "CNY")),
            "form": form,
            "order_url": reverse("admin:orders_order_change", args=[order.pk]),
        }
        return TemplateResponse(request, "admin/payments/refund/refund_order.html", context)
