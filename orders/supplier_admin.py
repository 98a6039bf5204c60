"""Suppliers in admin: configured here (the secret is write-only), with their balance and how they
have served us; and each order's upstream purchases on the order page."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import Supplier
from catalog.suppliers import adapter_choices
from catalog.supply import set_supplier_secret, sync_supplier
from kamen.admin import ReadOnlyInline, ShopAdmin
from kamen.templatetags.money import yuan

from .models import UpstreamPurchase
from .supplier_stats import figures_by_supplier, recent_failures


class SupplierForm(forms.ModelForm):
    adapter = forms.ChoiceField(label=gettext_lazy("adapter"), choices=adapter_choices)
    base_url = forms.URLField(label=gettext_lazy("API address"), max_length=300, assume_scheme="https")
    new_secret = forms.CharField(
        label=gettext_lazy("secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("The app secret or API secret; stored encrypted, never shown. Empty: unchanged."),
    )

    class Meta:
        model = Supplier
        fields = (
            "name",
            "adapter",
            "base_url",
            "account",
            "new_secret",
            "options",
            "enabled",
            "priority",
            "timeout_seconds",
            "category",
        )

    def clean(self):
        cleaned = super().clean()
        if not self.instance.secret_encrypted and not cleaned.get("new_secret"):
            self.add_error("new_secret", _("Enter the secret this supplier gave you."))
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("new_secret"):
            set_supplier_secret(self.instance, self.cleaned_data["new_secret"])
        return super().save(commit)


@admin.register(Supplier)
class SupplierAdmin(ShopAdmin):
    form = SupplierForm
    list_display = (
        "name",
        "adapter",
        "enabled",
        "priority",
        "balance_shown",
        "success_rate",
        "average_time",
        "profit_per_order",
        "synced_at",
        "sync_error",
    )
    list_filter = ("enabled", "adapter")
    readonly_fields = ("balance_shown", "synced_at", "sync_error", "figures", "failures")
    actions = ("sync_now",)

    def get_fields(self, request, obj=None):
        fields = list(SupplierForm.Meta.fields)
        return fields + (list(self.readonly_fields) if obj else [])

    @staticmethod
    def _figures_of(supplier):
        # Kept on the row, not on this admin (one instance serves every request at once): one query
        # per supplier, of which a shop has a handful.
        if not hasattr(supplier, "figures_30_days"):
            supplier.figures_30_days = figures_by_supplier([supplier.pk]).get(supplier.pk)
        return supplier.figures_30_days

    @admin.display(description=gettext_lazy("balance"))
    def balance_shown(self, supplier: Supplier) -> str:
        return yuan(supplier.balance) if supplier.balance is not None else "—"

    @admin.display(description=gettext_lazy("success rate"))
    def success_rate(self, supplier: Supplier) -> str:
        figures = self._figures_of(supplier)
        rate = figures.success_rate if figures else None
        return f"{rate:.1%}" if rate is not None else "—"

    @admin.display(description=gettext_lazy("average delivery"))
    def average_time(self, supplier: Supplier) -> str:
        figures = self._figures_of(supplier)
        return f"{figures.average_seconds:.1f} s" if figures and figures.average_seconds is not None else "—"

    @admin.display(description=gettext_lazy("profit per order"))
    def profit_per_order(self, supplier: Supplier) -> str:
        figures = self._figures_of(supplier)
        profit = figures.profit_per_order if figures else None
        return f"¥{profit}" if profit is not None else "—"

    @admin.display(description=gettext_lazy("last 30 days"))
    def figures(self, supplier: Supplier) -> str:
        found = self._figures_of(supplier)
        if found is None:
            return _("No purchases yet.")
        return _(
            "%(attempts)s attempts, %(delivered)s delivered, %(failed)s failed; sales ¥%(revenue)s, cost ¥%(cost)s"
        ) % {
            "attempts": found.attempts,
            "delivered": found.delivered,
            "failed": found.failed,
            "revenue": found.revenue,
            "cost": found.cost,
        }

    @admin.display(description=gettext_lazy("recent failures"))
    def failures(self, supplier: Supplier) -> str:
        rows = recent_failures(supplier)
        if not rows:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} · {} · {} · {}</li>",
                ((p.created_at, p.order.number, p.get_state_display(), p.message) for p in rows),
            ),
        )

    @admin.action(description=gettext_lazy("Sync products, stock and balance now"), permissions=["change"])
    def sync_now(self, request, queryset):
        for supplier in queryset:
            result = sync_supplier(supplier)
            if result.error:
                self.message_user(request, f"{supplier}: {result.error}", messages.ERROR)
            else:
                text = _("%(supplier)s: %(n)s products, %(new)s new (pending review).") % {
                    "supplier": supplier,
                    "n": result.products,
                    "new": result.new,
                }
                self.message_user(request, text, messages.SUCCESS)


class UpstreamPurchaseInline(ReadOnlyInline):
    model = UpstreamPurchase
    fields = (
        "created_at",
        "supplier",
        "key",
        "state",
        "failure",
        "supplier_order_no",
        "cost",
        "message",
        "finished_at",
    )
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("upstream purchases")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("supplier")
