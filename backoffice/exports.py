"""Exports of orders, unsold card codes, the three ledgers and members, as CSV or Excel, run as jobs.

Each export is a fixed list of columns: what leaves the shop is written down here (no password hashes,
no access tokens), and card secrets only in columns marked secret, which are written only for a staff
member who holds `catalog.reveal_cardcode` and asked for them. Asking is audited when the job is queued:
one EXPORT row, and one CODE_REVEAL row when secrets go into the file.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from accounts.models import PointsEntry, User, WalletEntry
from catalog.models import CardCode
from distribution.models import LedgerEntry
from kamen import audit, jobs
from kamen.models import AdminJob
from kamen.tasks import enqueue
from orders.models import Order

CHUNK = 2000
FORMATS = ("csv", "xlsx")
# A text cell starting with one of these is a formula to Excel: written from member-controlled text
# (an e-mail, a note) it could run on the staff member's machine, so it is written as plain text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: Promise
    value: Callable[[Any], Any]
    #: A card secret: written only with the reveal permission, and exactly as stored (never escaped).
    secret: bool = False


@dataclass(frozen=True)
class Export:
    name: str
    label: Promise
    model: type[models.Model]
    columns: tuple[Column, ...]
    related: tuple[str, ...] = ()

    @property
    def has_secrets(self) -> bool:
        return any(column.secret for column in self.columns)

    def columns_for(self, *, include_secrets: bool) -> list[Column]:
        return [column for column in self.columns if include_secrets or not column.secret]


def _email(user: User | None) -> str:
    return user.email if user else ""


def _balance(user: User):
    try:
        return user.wallet.balance
    except ObjectDoesNotExist:
        return Decimal("0")


ORDERS = Export(
    "orders",
    gettext_lazy("orders"),
    Order,
    (
        Column(gettext_lazy("order number"), lambda o: o.number),
        Column(gettext_lazy("created"), lambda o: o.created_at),
        Column(gettext_lazy("status"), lambda o: o.get_status_display()),
        Column(gettext_lazy("refund status"), lambda o: o.get_refund_status_display()),
        Column(gettext_lazy("buyer"), lambda o: _email(o.user)),
        Column(gettext_lazy("contact e-mail"), lambda o: o.contact_email),
        Column(gettext_lazy("product"), lambda o: o.product_title),
        Column(gettext_lazy("spec"), lambda o: o.sku_name),
        Column(gettext_lazy("quantity"), lambda o: o.quantity),
        Column(gettext_lazy("unit price"), lambda o: o.unit_price),
        Column(gettext_lazy("total"), lambda o: o.total),
        Column(gettext_lazy("refunded"), lambda o: o.refunded),
        Column(gettext_lazy("payment method"), lambda o: o.payment_method),
        Column(gettext_lazy("paid"), lambda o: o.paid_at),
        Column(gettext_lazy("delivered"), lambda o: o.delivered_at),
    ),
    related=("user",),
)
UNSOLD_CODES = Export(
    "unsold_codes",
    gettext_lazy("unsold card codes"),
    CardCode,
    (
        Column(gettext_lazy("code id"), lambda c: c.pk),
        Column(gettext_lazy("SKU"), lambda c: str(c.sku)),
        Column(gettext_lazy("batch"), lambda c: c.batch),
        Column(gettext_lazy("line"), lambda c: c.position),
        Column(gettext_lazy("imported"), lambda c: c.created_at),
        Column(gettext_lazy("card number"), lambda c: c.card_no, secret=True),
        Column(gettext_lazy("card secret"), lambda c: c.secret, secret=True),
    ),
    related=("sku__product",),
)
WALLET_LEDGER = Export(
    "wallet_ledger",
    gettext_lazy("wallet ledger"),
    WalletEntry,
    (
        Column(gettext_lazy("entry"), lambda e: e.pk),
        Column(gettext_lazy("time"), lambda e: e.created_at),
        Column(gettext_lazy("member"), lambda e: _email(e.wallet.user)),
        Column(gettext_lazy("kind"), lambda e: e.get_kind_display()),
        Column(gettext_lazy("amount"), lambda e: e.amount),
        Column(gettext_lazy("balance after"), lambda e: e.balance_after),
        Column(gettext_lazy("reference"), lambda e: e.reference),
        Column(gettext_lazy("note"), lambda e: e.note),
        Column(gettext_lazy("by"), lambda e: _email(e.actor)),
    ),
    related=("wallet__user", "actor"),
)
COMMISSION_LEDGER = Export(
    "commission_ledger",
    gettext_lazy("commission ledger"),
    LedgerEntry,
    (
        Column(gettext_lazy("entry"), lambda e: e.pk),
        Column(gettext_lazy("time"), lambda e: e.created_at),
        Column(gettext_lazy("member"), lambda e: _email(e.member)),
        Column(gettext_lazy("kind"), lambda e: e.get_kind_display()),
        Column(gettext_lazy("amount"), lambda e: e.amount),
        Column(gettext_lazy("reference"), lambda e: e.reference),
        Column(gettext_lazy("note"), lambda e: e.note),
        Column(gettext_lazy("by"), lambda e: _email(e.actor)),
    ),
    related=("member", "actor"),
)
POINTS_LEDGER = Export(
    "points_ledger",
    gettext_lazy("points ledger"),
    PointsEntry,
    (
        Column(gettext_lazy("entry"), lambda e: e.pk),
        Column(gettext_lazy("time"), lambda e: e.created_at),
        Column(gettext_lazy("member"), lambda e: _email(e.account.user)),
        Column(gettext_lazy("kind"), lambda e: e.get_kind_display()),
        Column(gettext_lazy("points"), lambda e: e.points),
        Column(gettext_lazy("balance after"), lambda e: e.balance_after),
        Column(gettext_lazy("reference"), lambda e: e.reference),
        Column(gettext_lazy("note"), lambda e: e.note),
    ),
    related=("account__user",),
)
MEMBERS = Export(
    "members",
    gettext_lazy("members"),
    User,
    (
        Column(gettext_lazy("e-mail address"), lambda u: u.email),
        Column(gettext_lazy("level"), lambda u: str(u.level) if u.level_id else ""),
        Column(gettext_lazy("joined"), lambda u: u.date_joined),
        Column(gettext_lazy("paid in all"), lambda u: u.paid_total),
        Column(gettext_lazy("balance"), _balance),
        Column(gettext_lazy("active"), lambda u: _("yes") if u.is_active else _("no")),
    ),
    related=("level", "wallet"),
)

EXPORTS: dict[str, Export] = {
    e.name: e for e in (ORDERS, UNSOLD_CODES, WALLET_LEDGER, COMMISSION_LEDGER, POINTS_LEDGER, MEMBERS)
}


def can_export_secrets(user: User) -> bool:
    return user.is_active and user.is_staff and user.has_perm("catalog.reveal_cardcode")


def start_export(
    export: Export,
    row_ids: list[int],
    *,
    file_format: str,
    include_secrets: bool,
    actor: User,
    filters: str,
    ip: str | None,
) -> AdminJob:
    """Queue an export of the rows `row_ids` and audit the asking; PermissionDenied, writing nothing,
    for secrets without the reveal permission."""
    if file_format not in FORMATS:
        raise ValueError(file_format)
    if include_secrets and not (export.has_secrets and can_export_secrets(actor)):
        raise PermissionDenied
    from .tasks import run_export_task  # the tasks module imports this one

    what = {"export": export.name, "rows": len(row_ids), "format": file_format, "secrets": include_secrets}
    with transaction.atomic():
        job = jobs.create_job(
            AdminJob.Kind.EXPORT,
            requested_by=actor,
            parameters={
                **what,
                "label": str(export.label),
                "ids": row_ids,
                "filters": filters,
                "language": translation.get_language(),
            },
            total=len(row_ids),
        )
        audit.record(audit.Kind.EXPORT, actor=actor, target=job, after=what, note=filters, ip=ip)
        if include_secrets:
            after = {"codes": len(row_ids), "export": export.name}
            audit.record(audit.Kind.CODE_REVEAL, actor=actor, target=job, after=after, note=filters, ip=ip)
        transaction.on_commit(lambda: enqueue(run_export_task, job.pk))
    return job


def run_export(job_id: int) -> int:
    """Write the file of an export job, reporting progress by chunk; returns the number of rows."""
    job = jobs.start(job_id)
    params = job.parameters
    export = EXPORTS[params["export"]]
    include_secrets = params.get("secrets", False)
    if include_secrets and not can_export_secrets(job.requested_by):
        raise PermissionDenied("the reveal permission was withdrawn before the export ran")
    columns = export.columns_for(include_secrets=include_secrets)
    with translation.override(params.get("language")):
        writer = XlsxWriter(str(export.label)) if params["format"] == "xlsx" else CsvWriter()
        writer.row([str(column.header) for column in columns], secret=[False] * len(columns))
        rows = 0
        for obj in _rows(export, params["ids"], progress=lambda done: jobs.report_progress(job, done, job.total)):
            writer.row([column.value(obj) for column in columns], secret=[column.secret for column in columns])
            rows += 1
        summary = _("Exported %(rows)s rows of %(what)s.") % {"rows": rows, "what": export.label}
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    jobs.finish(
        job,
        result={"rows": rows, "summary": summary},
        content=writer.content(),
        file_name=f"{export.name}-{stamp}.{params['format']}",
    )
    return rows


def _rows(export: Export, ids: list[int], *, progress: Callable[[int], None]) -> Iterator[models.Model]:
    """The rows in the order of `ids` (the change list's order), read CHUNK at a time."""
    queryset = export.model.objects.select_related(*export.related)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = queryset.in_bulk(chunk)
        yield from (found[pk] for pk in chunk if pk in found)
        progress(start + len(chunk))


def _plain(value: Any) -> Any:
    """A cell's value: amounts as numbers, times in the shop's time zone, everything else as text."""
    if value is None:
        return ""
    if hasattr(value, "amount") and hasattr(value, "currency"):
        return value.amount
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (int, Decimal)):
        return value
    return str(value)


def _safe_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class CsvWriter:
    """UTF-8 with a byte-order mark, so Excel opens Chinese text as Chinese rather than mojibake."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def row(self, values: Iterable[Any], *, secret: list[bool]) -> None:
        cells = zip((_plain(value) for value in values), secret, strict=True)
        self.writer.writerow([value if is_secret else _safe_text(value) for value, is_secret in cells])

    def content(self) -> bytes:
        return ("\ufeff" + self.buffer.getvalue()).encode("utf-8")


class XlsxWriter:
    """One sheet, streamed (write-only mode); every text cell is text, never a formula."""

    def __init__(self, title: str) -> None:
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(title=title[:31])

    def row(self, values: Iterable[Any], *, secret: list[bool]) -> None:
        self.sheet.append([self._cell(_plain(value)) for value in values])

    def _cell(self, value: Any) -> WriteOnlyCell:
        if not isinstance(value, str):
            return WriteOnlyCell(self.sheet, value=value)
        cell = WriteOnlyCell(self.sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        return cell

    def content(self) -> bytes:
        buffer = io.BytesIO()
        self.workbook.save(buffer)
        return buffer.getvalue()
