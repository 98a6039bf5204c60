"""Export actions on the change lists of orders, card codes, SKUs, the ledgers and members.

The apps below may not import the back office, so it adds its action to their admins here; Django
discovers this module last (backoffice is the last app). The action asks for the format on a page of
its own, then queues an export job of exactly the rows the change list selected: ticked rows, or with
"select all" every row its filters and search found.
"""

from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import PointsEntry, User, WalletEntry
from catalog.models import CardCode, Sku
from distribution.models import LedgerEntry
from kamen.http import client_ip_or_none
from kamen.models import AdminJob
from orders.models import Order

from . import exports
from .forms import ExportForm

RowsOf = Callable[[QuerySet], QuerySet]


def _same(queryset: QuerySet) -> QuerySet:
    return queryset


def _unsold_codes(queryset: QuerySet) -> QuerySet:
    return queryset.filter(status=CardCode.Status.AVAILABLE)


def _unsold_codes_of_skus(queryset: QuerySet) -> QuerySet:
    unsold = CardCode.objects.filter(sku__in=queryset.values("pk"), status=CardCode.Status.AVAILABLE)
    return unsold.order_by("sku_id", "pk")


def export_page(modeladmin: admin.ModelAdmin, request, queryset: QuerySet, export: exports.Export, rows_of: RowsOf):
    """The export action's page: choose the format (and the secrets, if you may), then the job page."""
    offer_secrets = export.has_secrets and exports.can_export_secrets(request.user)
    if "include_secrets" in request.POST and not offer_secrets:
        raise PermissionDenied  # the option was never offered: a forged request
    rows = rows_of(queryset)
    form = ExportForm(request.POST if "apply" in request.POST else None, offer_secrets=offer_secrets)
    if form.is_bound and form.is_valid():
        job = exports.start_export(
            export,
            list(rows.values_list("pk", flat=True)),
            file_format=form.cleaned_data["file_format"],
            include_secrets=form.cleaned_data.get("include_secrets", False),
            actor=request.user,
            filters=request.GET.urlencode(),
            ip=client_ip_or_none(request),
        )
        job.refresh_from_db()
        if job.state == AdminJob.State.DONE:  # the embedded run exports eagerly, before this redirect
            modeladmin.message_user(request, job.result["summary"], messages.SUCCESS)
        return redirect("admin:kamen_adminjob_change", job.pk)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Export %(what)s") % {"what": export.label},
        "opts": modeladmin.opts,
        "form": form,
        "count": rows.count(),
        "filters": request.GET.urlencode(),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/backoffice/export.html", context)


def export_action(export: exports.Export, rows_of: RowsOf = _same, *, description=None):
    def export_rows(modeladmin, request, queryset):
        return export_page(modeladmin, request, queryset, export, rows_of)

    label = description or gettext_lazy("Export selected as Excel or CSV…")
    return admin.action(description=label)(export_rows)


EXPORT_ACTIONS = {
    Order: export_action(exports.ORDERS),
    CardCode: export_action(
        exports.UNSOLD_CODES, _unsold_codes, description=gettext_lazy("Export the unsold of the selected codes…")
    ),
    Sku: export_action(
        exports.UNSOLD_CODES, _unsold_codes_of_skus, description=gettext_lazy("Export unsold codes of selected SKUs…")
    ),
    WalletEntry: export_action(exports.WALLET_LEDGER),
    LedgerEntry: export_action(exports.COMMISSION_LEDGER),
    PointsEntry: export_action(exports.POINTS_LEDGER),
    User: export_action(exports.MEMBERS),
}

for model, action in EXPORT_ACTIONS.items():
    model_admin = admin.site.get_model_admin(model)
    model_admin.actions = (*(model_admin.actions or ()), action)
