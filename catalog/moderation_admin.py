"""Moderation in admin: the review queue, approve / reject from a product's page, the prohibited-goods rules.

Imported at the end of catalog.admin. Views parse input and call `catalog.moderation`; deciding needs
`catalog.approve_product`, which the service checks again.
"""

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kamen import audit
from kamen.admin import ShopAdmin
from kamen.http import client_ip_or_none

from . import moderation, policy
from .admin import rejection_page
from .forms import RejectionForm
from .models import Product, ProhibitedRule, ReviewQueueProduct

# The labels of what `moderation.content_of` compares, for the queue's "what changed".
CHANGE_LABELS = {
    "title": gettext_lazy("title"),
    "brand": gettext_lazy("brand"),
    "keywords": gettext_lazy("search keywords"),
    "description": gettext_lazy("description"),
    "instructions": gettext_lazy("how to redeem"),
    "category": gettext_lazy("category"),
    "image": gettext_lazy("image"),
    "skus": gettext_lazy("SKU names"),
}


class ReviewQueueChangeList(ChangeList):
    """Checks the page's products against the policy with one read of the rules, not one per row."""

    def get_results(self, request) -> None:
        super().get_results(request)
        rules = policy.Policy.load()
        for product in self.result_list:
            product.policy_hit = rules.check(product, sku_names=[sku.name for sku in product.skus.all()])


@admin.register(ReviewQueueProduct)
class ReviewQueueProductAdmin(ShopAdmin):
    """Products pending review, oldest first, with why they are here and any rule they hit."""

    list_display = ("title", "category", "why", "submitted_by", "submitted_at", "hit")
    list_display_links = ("title",)
    list_select_related = ("category", "category__parent", "submitted_by")
    list_filter = ("review_cause",)
    search_fields = ("title", "brand", "keywords")
    ordering = ("submitted_at", "id")
    fields = ("title", "category", "brand", "keywords", "description", "instructions", "image")
    readonly_fields = fields
    actions = ("approve", "reject")
    change_form_template = "admin/catalog/product/change_form.html"

    def get_queryset(self, request):
        pending = super().get_queryset(request).filter(status=Product.Status.PENDING)
        return pending.prefetch_related("skus")

    def get_changelist(self, request, **kwargs):
        return ReviewQueueChangeList

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_approve_permission(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return False  # a product enters the queue by being submitted, changed or found upstream

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # edits happen on the product's own page, where they are reviewed again

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_approve_permission(self, request) -> bool:
        return moderation.may_decide(request.user)

    @admin.display(description=gettext_lazy("in review because"), ordering="review_cause")
    def why(self, product: Product) -> str:
        cause = product.get_review_cause_display() or "—"
        if not product.review_changes:
            return cause
        changed = "、".join(str(CHANGE_LABELS.get(name, name)) for name in product.review_changes)
        return f"{cause}: {changed}"

    @admin.display(description=gettext_lazy("prohibited-goods rule"))
    def hit(self, product: Product) -> str:
        found = getattr(product, "policy_hit", None)
        return format_html('<strong class="errornote">{}</strong>', found) if found else "—"

    def _decide(self, request, queryset, status: str, *, reason: str = "") -> None:
        done, refused = 0, []
        for product in queryset:
            try:
                moderation.moderate(product, status, actor=request.user, reason=reason, ip=client_ip_or_none(request))
                done += 1
            except moderation.ModerationError as error:
                refused.append(str(error))
        if done:
            self.message_user(request, _("%(count)s products updated.") % {"count": done}, messages.SUCCESS)
        for text in refused:
            self.message_user(request, text, messages.ERROR)

    @admin.action(description=gettext_lazy("Approve selected products"), permissions=["approve"])
    def approve(self, request, queryset):
        self._decide(request, queryset, Product.Status.APPROVED)

    @admin.action(description=gettext_lazy("Reject selected products…"), permissions=["approve"])
    def reject(self, request, queryset):
        return rejection_page(self, request, queryset)

    def _moderate(self, request, queryset, status: str, *, reason: str = "") -> None:
        self._decide(request, queryset, status, reason=reason)

    # -------------------------------------------------------------- one product: its page's buttons

    def get_urls(self):
        def view(method):
            return self.admin_site.admin_view(method)

        return [
            path("<path:object_id>/approve/", view(self.approve_view), name="catalog_reviewqueueproduct_approve"),
            path("<path:object_id>/reject/", view(self.reject_view), name="catalog_reviewqueueproduct_reject"),
            *super().get_urls(),
        ]

    def _decided(self, request, object_id: str) -> Product:
        if not self.has_approve_permission(request):
            raise PermissionDenied
        product = Product.objects.filter(pk=object_id).first() if object_id.isascii() and object_id.isdigit() else None
        if product is None:
            raise Http404
        return product

    def _back(self, request) -> HttpResponseRedirect:
        back = request.POST.get("next") or request.GET.get("next") or ""
        if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            return HttpResponseRedirect(back)
        return redirect("admin:catalog_reviewqueueproduct_changelist")

    @method_decorator(require_POST)
    def approve_view(self, request, object_id: str):
        product = self._decided(request, object_id)
        self._decide(request, [product], Product.Status.APPROVED)
        return self._back(request)

    def reject_view(self, request, object_id: str):
        """Ask for the reason, then reject; the submitter reads it on the product's page and in their messages."""
        product = self._decided(request, object_id)
        form = RejectionForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            self._decide(request, [product], Product.Status.REJECTED, reason=form.cleaned_data["reason"])
            return self._back(request)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reject “%(product)s”") % {"product": product},
            "opts": self.opts,
            "form": form,
            "product": product,
            "next": request.POST.get("next") or request.GET.get("next") or "",
            "cancel_url": reverse("admin:catalog_product_change", args=[product.pk]),
        }
        return TemplateResponse(request, "admin/catalog/reviewqueueproduct/reject.html", context)


# ------------------------------------------------------------------------------ the policy itself

RULE_FIELDS = ("name", "kind", "keywords", "category", "reason", "is_active")


@admin.register(ProhibitedRule)
class ProhibitedRuleAdmin(ShopAdmin):
    """The prohibited-goods policy, kept by staff holding its model permissions; each edit is audited."""

    list_display = ("name", "kind", "keyword_list", "category", "is_active", "updated_at")
    list_filter = ("kind", "is_active")
    list_select_related = ("category",)
    search_fields = ("name", "keywords", "reason")
    fields = RULE_FIELDS

    @admin.display(description=gettext_lazy("keywords"))
    def keyword_list(self, rule: ProhibitedRule) -> str:
        words = rule.words
        shown = "、".join(words[:6])
        return f"{shown} …" if len(words) > 6 else shown or "—"

    def save_model(self, request, obj, form, change) -> None:
        before = audit.snapshot(ProhibitedRule.objects.get(pk=obj.pk), RULE_FIELDS) if change else {}
        super().save_model(request, obj, form, change)
        before, after = audit.changed(before, audit.snapshot(obj, RULE_FIELDS))
        if after:
            self._audit(request, obj, before=before, after=after)

    def delete_model(self, request, obj) -> None:
        self._audit(request, obj, before=audit.snapshot(obj, RULE_FIELDS), after={})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for rule in queryset:
            self.delete_model(request, rule)

    def _audit(self, request, rule: ProhibitedRule, *, before: dict, after: dict) -> None:
        audit.record(
            audit.Kind.MODERATION,
            actor=request.user,
            target=rule,
            before=before,
            after=after,
            note=_("Prohibited-goods rule"),
            ip=client_ip_or_none(request),
        )
