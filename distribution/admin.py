"""Distribution in admin: commission rules and level terms to set, the tree and the ledger to read,
commissions held for review to decide, withdrawals to approve, pay by hand or decline."""

from django import forms
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

from kamen.admin import ReadOnlyAdmin, ShopAdmin, ShopTabularInline
from kamen.templatetags.money import yuan

from . import services
from .models import Commission, CommissionRule, LedgerEntry, LevelTerms, Referrer, Withdrawal, WithdrawalEvent
from .selectors import balances_of
from .services.commissions import forget_level_terms


@admin.register(CommissionRule)
class CommissionRuleAdmin(ShopAdmin):
    list_display = ("__str__", "scope", "rate_1", "rate_2", "rate_3")
    list_filter = ("scope",)
    autocomplete_fields = ("category", "product")
    fields = ("scope", "category", "product", "rate_1", "rate_2", "rate_3")


@admin.register(LevelTerms)
class LevelTermsAdmin(ShopAdmin):
    list_display = ("level", "may_earn", "rate_factor")
    list_editable = ("may_earn", "rate_factor")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        forget_level_terms()  # the next payment earns by the new terms

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        forget_level_terms()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        forget_level_terms()


@admin.register(Referrer)
class ReferrerAdmin(ReadOnlyAdmin):
    list_display = ("user", "code", "inviter", "flag", "bound_at")
    list_filter = (("flag", admin.EmptyFieldListFilter), "bound_at")
    list_select_related = ("user", "inviter")
    search_fields = ("=code", "user__email", "inviter__email")
    fields = readonly_fields = (
        "user", "code", "inviter", "upline_2", "upline_3", "bound_at", "signup_ip", "flag", "first_order_paid",
        "balances", "created_at",
    )  # fmt: skip

    @admin.display(description=gettext_lazy("balances"))
    def balances(self, referrer: Referrer) -> str:
        figures = balances_of(referrer.user_id)
        return _(
            "pending %(pending)s · available %(available)s · being withdrawn %(held)s · withdrawn %(withdrawn)s"
        ) % {name: yuan(getattr(figures, name)) for name in ("pending", "available", "held", "withdrawn")}


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "member", "kind", "entry_amount", "reference", "actor", "note")
    list_filter = ("kind", "created_at")
    list_select_related = ("member", "actor")
    search_fields = ("member__email", "=reference")
    date_hierarchy = "created_at"

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def entry_amount(self, entry: LedgerEntry) -> str:
        return yuan(entry.amount)


@admin.register(Commission)
class CommissionAdmin(ReadOnlyAdmin):
    """Commissions as records; those held for review are approved or rejected from the list."""

    # What fits at 1280 px; the base and any reversal are on each commission's page.
    list_display = ("created_at", "earner", "kind", "tier", "order", "amount", "state", "flag")
    list_filter = ("state", "kind", "tier", "created_at")
    list_select_related = ("earner", "order")
    search_fields = ("earner__email", "buyer__email", "=order__number")
    date_hierarchy = "created_at"
    actions = ("approve_selected", "reject_selected")

    def get_actions(self, request):
        # The list is read-only, but deciding a review is a change: it needs the change permission.
        actions = super().get_actions(request)
        if not request.user.has_perm("distribution.change_commission"):
            actions.pop("approve_selected", None)
            actions.pop("reject_selected", None)
        return actions

    @admin.action(description=gettext_lazy("Approve the selected commissions held for review"))
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, services.approve_commission)

    @admin.action(description=gettext_lazy("Reject the selected commissions held for review (take them back)"))
    def reject_selected(self, request, queryset):
        self._decide(request, queryset, services.reject_commission)

    def _decide(self, request, queryset, decide):
        done = refused = 0
        for commission in queryset:
            try:
                decide(commission, actor=request.user)
            except services.ReviewRefused:
                refused += 1
            else:
                done += 1
        self.message_user(
            request, _("%(done)s decided, %(refused)s not waiting for review.") % {"done": done, "refused": refused}
        )


class WithdrawalEventInline(ShopTabularInline):
    model = WithdrawalEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "type", "actor", "data")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PaidByHandForm(forms.Form):
    reference = forms.CharField(label=gettext_lazy("Payout reference"), max_length=64)


class DeclineWithdrawalForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason, shown to the member"), max_length=300)


WITHDRAWAL_FIELDS = (
    "number", "member", "amount", "fee", "method", "account", "account_name", "state", "reference", "message",
    "decided_by", "created_at", "sent_at", "finished_at",
)  # fmt: skip


@admin.register(Withdrawal)
class WithdrawalAdmin(ShopAdmin):
    """Withdrawals, read-only as records; with change permission staff send them by transfer, mark them
    paid by hand with a reference, decline them, or ask the gateway about a transfer in flight."""

    list_display = ("number", "member", "withdrawal_amount", "method", "account", "state", "created_at")
    list_filter = ("state", "method", "created_at")
    list_select_related = ("member",)
    search_fields = ("=number", "member__email", "account")
    date_hierarchy = "created_at"
    fields = readonly_fields = WITHDRAWAL_FIELDS
    inlines = (WithdrawalEventInline,)
    change_form_template = "admin/distribution/withdrawal/change_form.html"

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def withdrawal_amount(self, withdrawal: Withdrawal) -> str:
        return yuan(withdrawal.amount)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        act = self.admin_site.admin_view(self.act_view)
        return [
            path("<path:object_id>/act/<str:action>/", act, name="distribution_withdrawal_act"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "can_act": self.has_change_permission(request),
            "paid_form": PaidByHandForm(),
            "decline_form": DeclineWithdrawalForm(),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @method_decorator(require_POST)
    def act_view(self, request, object_id: str, action: str):
        withdrawal = self.get_object(request, unquote(object_id))
        if withdrawal is None:
            raise Http404
        if not self.has_change_permission(request, withdrawal):
            raise PermissionDenied
        try:
            message = self._act(request, withdrawal, action)
        except services.WithdrawalRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        return redirect("admin:distribution_withdrawal_change", withdrawal.pk)

    def _act(self, request, withdrawal: Withdrawal, action: str) -> str:
        if action == "send":
            done = services.approve_and_send(withdrawal, actor=request.user)
            return _("Transfer of %(number)s: %(state)s.") % {"number": done.number, "state": done.get_state_display()}
        if action == "query":
            done = services.sync_sending_withdrawal(withdrawal)
            return _("Transfer of %(number)s: %(state)s.") % {"number": done.number, "state": done.get_state_display()}
        if action == "paid":
            form = PaidByHandForm(request.POST)
            if not form.is_valid():
                raise services.WithdrawalRefused(_("Give the payout's reference (the transfer or receipt number)."))
            services.mark_paid_by_hand(withdrawal, actor=request.user, reference=form.cleaned_data["reference"])
            return _("%(number)s marked paid.") % {"number": withdrawal.number}
        if action == "decline":
            form = DeclineWithdrawalForm(request.POST)
            if not form.is_valid():
                raise services.WithdrawalRefused(_("Say why the withdrawal is declined; the member will see it."))
            services.decline_withdrawal(withdrawal, actor=request.user, reason=form.cleaned_data["reason"])
            return _("%(number)s declined; the amount is back in the member's balance.") % {"number": withdrawal.number}
        raise Http404
