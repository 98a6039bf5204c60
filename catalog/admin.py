"""Catalog admin: categories, products with moderation, SKUs with code import, masked card codes.

Admin classes parse input and call `catalog.services`; a card code is decrypted only by the audited
reveal view.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kamen import audit
from kamen.admin import ReadOnlyAdmin, ShopAdmin, ShopTabularInline
from kamen.http import client_ip_or_none
from kamen.templatetags.money import yuan

from . import crypto, moderation, pricing, services
from .cache import catalog_changed
from .forms import CardCodeImportForm, RejectionForm
from .models import (
    BuyerField,
    CardCode,
    CardCodeReveal,
    Category,
    LevelPrice,
    Product,
    Sku,
    SupplierProduct,
    WholesaleTier,
)
from .selectors import code_count

MASK = "••••••••"


def _report(modeladmin: admin.ModelAdmin, request, done: int, refused: list[str]) -> None:
    """One success line for what changed and one warning line for what was refused."""
    if done:
        modeladmin.message_user(request, _("%(count)s products updated.") % {"count": done}, messages.SUCCESS)
    if refused:
        more = len(refused) - 5
        text = " ".join(refused[:5]) + (_(" (and %(count)s more)") % {"count": more} if more > 0 else "")
        modeladmin.message_user(request, text, messages.WARNING)


def rejection_page(modeladmin: admin.ModelAdmin, request, queryset):
    """A reject action: ask for the reason on an intermediate page, which posts back to the action, then
    reject through `modeladmin._moderate`."""
    form = RejectionForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        modeladmin._moderate(request, queryset, Product.Status.REJECTED, reason=form.cleaned_data["reason"])
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Reject products"),
        "opts": modeladmin.opts,
        "form": form,
        "queryset": queryset,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/catalog/product/reject.html", context)


def _review_edit(modeladmin: admin.ModelAdmin, request, product: Product, before: dict) -> None:
    """After an edit of what shoppers see: back to review unless the editor may approve it as it is."""
    if moderation.review_edit(product, before=before, actor=request.user, ip=client_ip_or_none(request)):
        text = _("“%(product)s” changed after approval, so it is off the shelf and waits for review again.")
        modeladmin.message_user(request, text % {"product": product}, messages.WARNING)


def _tree_key(category: Category) -> tuple[int, int]:
    return (category.sort_order, category.pk)


class CategoryFilter(admin.SimpleListFilter):
    """Categories as “parent / child”, loaded in one query (the stock filter runs a query per name)."""

    title = gettext_lazy("category")
    parameter_name = "category"
    path = ""  # from the listed model to its `category` field

    def lookups(self, request, model_admin):
        categories = Category.objects.select_related("parent")
        # Tree order: each top category followed by its children.
        tree_order = sorted(
            categories, key=lambda c: (*_tree_key(c.parent or c), c.parent_id is not None, *_tree_key(c))
        )
        return [(c.pk, str(c)) for c in tree_order]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        # A top category also lists what sits in its children.
        in_category = Q(**{f"{self.path}category_id": self.value()})
        return queryset.filter(in_category | Q(**{f"{self.path}category__parent_id": self.value()}))


class SkuCategoryFilter(CategoryFilter):
    path = "product__"


class SkuFilter(admin.SimpleListFilter):
    title = gettext_lazy("SKU")
    parameter_name = "sku"

    def lookups(self, request, model_admin):
        return [(s.pk, str(s)) for s in Sku.objects.select_related("product").order_by("product_id", "sort_order")]

    def queryset(self, request, queryset):
        return queryset.filter(sku_id=self.value()) if self.value() else queryset


# ---------------------------------------------------------------------------------------------------
# Categories
# ---------------------------------------------------------------------------------------------------
class ShownOnListPagesAdmin(ShopAdmin):
    """Staff edits of what list pages show start a new catalog generation, so cached pages refresh."""

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        catalog_changed()

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        catalog_changed()


@admin.register(Category)
class CategoryAdmin(ShownOnListPagesAdmin):
    list_display = ("name", "parent", "slug", "sort_order", "is_active")
    list_filter = ("is_active", ("parent", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    ordering = ("parent__sort_order", "parent_id", "sort_order", "id")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Two levels only: a parent must itself be a top category.
        if db_field.name == "parent":
            kwargs["queryset"] = Category.objects.filter(parent=None)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# ---------------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------------
class BuyerFieldInline(ShopTabularInline):
    """What the buyer fills in at checkout (game UID, QQ number, server), validated as set here."""

    model = BuyerField
    fields = ("label", "kind", "required", "pattern", "choices", "help_text", "sort_order")
    extra = 0


class SkuInline(ShopTabularInline):
    model = Sku
    fields = ("name", "price", "delivery_kind", "is_active", "sort_order", "stock")
    readonly_fields = ("stock",)
    show_change_link = True

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj else 1

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(available=code_count(CardCode.Status.AVAILABLE))

    @admin.display(description=gettext_lazy("available codes"))
    def stock(self, sku: Sku) -> str:
        if not sku.pk:
            return "—"
        if sku.is_manual:
            return _("manual delivery")
        url = reverse("admin:catalog_sku_import", args=[sku.pk])
        return format_html('{} · <a href="{}">{}</a>', sku.available, url, _("import codes"))


@admin.register(Product)
class ProductAdmin(ShownOnListPagesAdmin):
    list_display = ("title", "category", "status", "is_on_shelf", "is_hot", "min_price", "stock", "updated_at")
    list_filter = ("status", "is_on_shelf", "is_hot", CategoryFilter)
    list_select_related = ("category", "category__parent")
    search_fields = ("title", "brand", "keywords")
    # Moderation and the shelf change only through the actions, which go through the services' rules.
    readonly_fields = ("status", "rejection_reason", "is_on_shelf", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("category", "title", "brand", "keywords", "description", "instructions", "image")}),
        (gettext_lazy("Selling"), {"fields": ("min_per_order", "max_per_order", "is_hot", "sort_order")}),
        (gettext_lazy("Moderation"), {"fields": ("status", "rejection_reason", "is_on_shelf")}),
        (gettext_lazy("Dates"), {"fields": ("created_at", "updated_at")}),
    )
    inlines = (SkuInline, BuyerFieldInline)
    actions = ("submit_for_review", "approve", "reject", "put_on_shelf", "take_off_shelf")

    def get_queryset(self, request):
        cheapest = Sku.objects.filter(product=OuterRef("pk"), is_active=True).order_by("price").values("price")[:1]
        in_stock = (
            CardCode.objects.filter(sku__product=OuterRef("pk"), sku__is_active=True, status=CardCode.Status.AVAILABLE)
            .order_by()
            .values("sku__product")
            .annotate(n=Count("id"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                lowest_price=Subquery(cheapest),
                stock_count=Coalesce(Subquery(in_stock, output_field=IntegerField()), Value(0)),
            )
        )

    @admin.display(description=gettext_lazy("lowest price"), ordering="lowest_price")
    def min_price(self, product: Product) -> str:
        return yuan(product.lowest_price) if product.lowest_price is not None else "—"

    @admin.display(description=gettext_lazy("stock"), ordering="stock_count")
    def stock(self, product: Product) -> int:
        return product.stock_count

    def has_approve_permission(self, request) -> bool:
        return moderation.may_decide(request.user)

    def save_model(self, request, obj, form, change) -> None:
        # Kept on the form (one per request): what shoppers saw, to tell whether the edit needs review.
        form.content_before = moderation.content_of(Product.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if form.content_before is not None:
            _review_edit(self, request, form.instance, form.content_before)

    def _moderate(self, request, queryset, status: str, *, reason: str = "") -> None:
        done, refused = 0, []
        for product in queryset:
            try:
                moderation.moderate(product, status, actor=request.user, reason=reason, ip=client_ip_or_none(request))
                done += 1
            except moderation.ModerationError as error:
                refused.append(str(error))
        _report(self, request, done, refused)

    def _shelve(self, request, queryset, *, on_shelf: bool) -> None:
        done, refused = 0, []
        for product in queryset:
            try:
                services.set_shelf(product, on_shelf=on_shelf, actor=request.user)
                done += 1
            except services.ModerationError as error:
                refused.append(str(error))
        _report(self, request, done, refused)

    @admin.action(description=gettext_lazy("Submit selected products for review"), permissions=["change"])
    def submit_for_review(self, request, queryset):
        self._moderate(request, queryset, Product.Status.PENDING)

    @admin.action(description=gettext_lazy("Approve selected products"), permissions=["approve"])
    def approve(self, request, queryset):
        self._moderate(request, queryset, Product.Status.APPROVED)

    @admin.action(description=gettext_lazy("Reject selected products…"), permissions=["approve"])
    def reject(self, request, queryset):
        return rejection_page(self, request, queryset)

    @admin.action(description=gettext_lazy("Put selected products on the shelf"), permissions=["change"])
    def put_on_shelf(self, request, queryset):
        self._shelve(request, queryset, on_shelf=True)

    @admin.action(description=gettext_lazy("Take selected products off the shelf"), permissions=["change"])
    def take_off_shelf(self, request, queryset):
        self._shelve(request, queryset, on_shelf=False)


# ---------------------------------------------------------------------------------------------------
# SKUs and card-code import
# ---------------------------------------------------------------------------------------------------
class WholesaleTierFormSet(forms.BaseInlineFormSet):
    """Wholesale prices must fall as the quantity rises, each below the retail price: a buyer who
    takes more never pays more per piece."""

    def clean(self) -> None:
        super().clean()
        rows = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("unit_price")
        ]
        retail = self.instance.price
        previous = None
        for row in sorted(rows, key=lambda row: row.get("min_quantity") or 0):
            if retail is not None and row["unit_price"] >= retail:
                raise forms.ValidationError(_("Each wholesale price must be below the retail price."))
            if previous is not None and row["unit_price"] >= previous["unit_price"]:
                raise forms.ValidationError(
                    _("Wholesale prices must fall as the quantity rises: from %(more)s, less than from %(fewer)s.")
                    % {"more": row["min_quantity"], "fewer": previous["min_quantity"]}
                )
            previous = row


class LevelPriceInline(ShopTabularInline):
    """Fixed unit prices of this SKU for member levels (代理价), in place of the level's discount."""

    model = LevelPrice
    fields = ("level", "unit_price")
    extra = 0


class WholesaleTierInline(ShopTabularInline):
    model = WholesaleTier
    formset = WholesaleTierFormSet
    fields = ("min_quantity", "unit_price")
    extra = 0


class SupplierProductInline(ShopTabularInline):
    """Which suppliers supply an upstream SKU, at what cost, asked in which order."""

    model = SupplierProduct
    extra = 0
    fields = ("supplier", "code", "name", "cost", "stock", "available", "priority", "synced_at")
    readonly_fields = ("name", "stock", "available", "synced_at")
    verbose_name = gettext_lazy("upstream supplier")
    verbose_name_plural = gettext_lazy("upstream suppliers")


def price_sheet(sku: Sku) -> dict:
    """Every figure that sets what a SKU sells for, as the audit log keeps it."""
    sheet = audit.snapshot(sku, ("price", "cost", "price_rule", "margin", "price_step"))
    sheet["wholesale"] = [f"{t.min_quantity}: {t.unit_price.amount}" for t in sku.tiers.order_by("min_quantity")]
    sheet["level_prices"] = [
        f"{p.level}: {p.unit_price.amount}" for p in sku.level_prices.select_related("level").order_by("level__rank")
    ]
    return sheet


@admin.register(Sku)
class SkuAdmin(ShownOnListPagesAdmin):
    list_display = (
        "__str__",
        "retail_price",
        "delivery_kind",
        "is_active",
        "available",
        "reserved",
        "sold",
        "import_link",
    )
    list_filter = ("delivery_kind", "is_active", SkuCategoryFilter)
    list_select_related = ("product",)
    search_fields = ("name", "product__title")
    autocomplete_fields = ("product",)
    fields = (
        "product",
        "name",
        "price",
        "delivery_kind",
        "is_active",
        "sort_order",
        "cost",
        "low_stock_at",
        "daily_limit_per_buyer",
        "available",
        "reserved",
        "sold",
        "routing",
        "price_rule",
        "margin",
        "price_step",
        "upstream_stock",
        "halted_reason",
    )
    readonly_fields = ("available", "reserved", "sold", "upstream_stock", "halted_reason")
    inlines = (WholesaleTierInline, LevelPriceInline, SupplierProductInline)
    change_form_template = "admin/catalog/sku/change_form.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                available_count=code_count(CardCode.Status.AVAILABLE),
                reserved_count=code_count(CardCode.Status.RESERVED),
                sold_count=code_count(CardCode.Status.SOLD),
            )
        )

    def save_model(self, request, obj, form, change):
        # Kept on the form (one per request), not on this admin, which serves every request at once.
        form.price_sheet_before = price_sheet(Sku.objects.get(pk=obj.pk)) if change else None
        form.content_before = moderation.content_of(obj.product)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        """Saved with its tiers and level prices: audited when a price moved; warned of any price below cost."""
        super().save_related(request, form, formsets, change)
        if form.price_sheet_before is not None:
            self._audit_prices(request, form.price_sheet_before, form.instance)
        _review_edit(self, request, form.instance.product, form.content_before)
        below = pricing.prices_below_cost(form.instance)
        if below:
            prices = "、".join(f"{who} {yuan(price)}" for who, price in below)
            warning = _("Below the known cost of %(cost)s: %(prices)s.") % {
                "cost": yuan(form.instance.cost),
                "prices": prices,
            }
            self.message_user(request, warning, messages.WARNING)

    def _audit_prices(self, request, sheet_before: dict, sku: Sku) -> None:
        before, after = audit.changed(sheet_before, price_sheet(Sku.objects.get(pk=sku.pk)))
        if after:
            audit.record(
                audit.Kind.PRICE_CHANGE,
                actor=request.user,
                target=sku,
                before=before,
                after=after,
                ip=client_ip_or_none(request),
            )

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("<path:object_id>/import/", view, name="catalog_sku_import"), *super().get_urls()]

    @admin.display(description=gettext_lazy("retail price"), ordering="price")
    def retail_price(self, sku: Sku) -> str:
        return yuan(sku.price)

    @admin.display(description=gettext_lazy("available"), ordering="available_count")
    def available(self, sku: Sku) -> int:
        return sku.available_count

    @admin.display(description=gettext_lazy("reserved"), ordering="reserved_count")
    def reserved(self, sku: Sku) -> int:
        return sku.reserved_count

    @admin.display(description=gettext_lazy("sold"), ordering="sold_count")
    def sold(self, sku: Sku) -> int:
        return sku.sold_count

    @admin.display(description=gettext_lazy("card codes"))
    def import_link(self, sku: Sku) -> str:
        if not sku.holds_codes:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:catalog_sku_import", args=[sku.pk]), _("Import"))

    def import_view(self, request, object_id: str):
        """Paste or upload codes into this SKU's stock; needs `catalog.add_cardcode`."""
        if not request.user.has_perm("catalog.add_cardcode"):
            raise PermissionDenied
        sku = self.get_object(request, unquote(object_id))
        if sku is None:
            raise Http404
        form = CardCodeImportForm(request.POST, request.FILES) if request.method == "POST" else CardCodeImportForm()
        if form.is_bound and form.is_valid():
            text, csv_format = form.codes()
            job = services.start_code_import(sku, text, csv_format=csv_format, actor=request.user)
            job.refresh_from_db()
            if job.state == job.State.DONE:  # the embedded run imports eagerly, before this redirect
                added = job.result.get("added", 0)
                self.message_user(request, job.result["summary"], messages.SUCCESS if added else messages.WARNING)
            return redirect("admin:kamen_adminjob_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import card codes"),
            "opts": self.opts,
            "original": sku,
            "form": form,
        }
        return TemplateResponse(request, "admin/catalog/sku/import_codes.html", context)


# ---------------------------------------------------------------------------------------------------
# Card codes: masked, read-only, revealed only through the audited view
# ---------------------------------------------------------------------------------------------------
@admin.register(CardCode)
class CardCodeAdmin(ShopAdmin):
    list_display = ("id", "sku", "masked", "status", "order_number", "reserved_until", "created_at", "sold_at")
    list_filter = ("status", SkuFilter)
    list_select_related = ("sku__product", "order")
    search_fields = ("=order__number",)
    search_help_text = gettext_lazy("An order number, or a whole code (card number and password) to find it.")
    # Counting millions of codes twice per page is wasted work.
    show_full_result_count = False
    fields = ("id", "sku", "masked", "status", "order_number", "reserved_until", "created_at", "sold_at")
    readonly_fields = fields
    actions = ("void_selected",)
    change_form_template = "admin/catalog/cardcode/change_form.html"

    def has_add_permission(self, request) -> bool:
        return False  # codes arrive only through the import on a SKU

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a code leaves stock by being voided, so its fingerprint keeps refusing re-imports

    def has_void_permission(self, request) -> bool:
        return request.user.has_perm("catalog.change_cardcode")

    def get_search_results(self, request, queryset, search_term):
        """Besides order numbers, match a pasted code by its fingerprint; the code itself is never stored."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        pairs, _blank, _invalid = services.parse_codes(search_term)
        if pairs:
            fingerprints = [crypto.fingerprint(card_no, secret) for card_no, secret in pairs]
            results = results | queryset.filter(fingerprint__in=fingerprints)
        return results, may_have_duplicates

    def get_urls(self):
        view = self.admin_site.admin_view(self.reveal_view)
        return [path("<path:object_id>/reveal/", view, name="catalog_cardcode_reveal"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_reveal": request.user.has_perm("catalog.reveal_cardcode")}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=gettext_lazy("code"))
    def masked(self, code: CardCode) -> str:
        return format_html('<span class="masked-code">{} {}</span>', MASK, code.hint)

    @admin.display(description=gettext_lazy("order"), ordering="order__number")
    def order_number(self, code: CardCode) -> str:
        return code.order.number if code.order_id else "—"

    @admin.action(description=gettext_lazy("Void selected available codes"), permissions=["void"])
    def void_selected(self, request, queryset):
        voided = services.void_codes(queryset.values_list("pk", flat=True), actor=request.user)
        skipped = queryset.count() - voided
        self.message_user(
            request,
            _("%(voided)s codes voided; %(skipped)s were not available and stayed as they were.")
            % {"voided": voided, "skipped": skipped},
            messages.SUCCESS if voided else messages.WARNING,
        )

    @method_decorator(require_POST)
    def reveal_view(self, request, object_id: str):
        """Show one code in plaintext, once, to a holder of `catalog.reveal_cardcode`; the service audits it."""
        if not request.user.has_perm("catalog.reveal_cardcode"):
            raise PermissionDenied
        code = self.get_object(request, unquote(object_id))
        if code is None:
            raise Http404
        card_no, secret = services.reveal_code(code, user=request.user, ip=client_ip_or_none(request))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Card code #%(id)s") % {"id": code.pk},
            "opts": self.opts,
            "original": code,
            "card_no": card_no,
            "secret": secret,
        }
        return TemplateResponse(request, "admin/catalog/cardcode/reveal.html", context)


@admin.register(CardCodeReveal)
class CardCodeRevealAdmin(ReadOnlyAdmin):
    """The audit trail of reveals: nobody adds, edits or deletes a line of it."""

    list_display = ("id", "code", "user", "ip", "created_at")
    list_filter = ("created_at",)
    list_select_related = ("code", "user")
    search_fields = ("user__email",)
    fields = ("code", "user", "ip", "created_at")
    readonly_fields = fields


from . import moderation_admin  # noqa: E402, F401  (the review queue and the prohibited-goods rules)
