"""Catalog writes: card-code import, the shelf and card codes (moderation itself: catalog.moderation)."""

import csv
import io
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from kamen import audit, jobs
from kamen.models import AdminJob
from kamen.tasks import enqueue

from . import crypto
from .cache import catalog_changed, stock_changed
from .locks import lock_product
from .models import CardCode, CardCodeReveal, Product, Sku
from .moderation import ModerationError

logger = logging.getLogger(__name__)

MAX_CODE_LENGTH = 500
_PAIR_SEPARATOR = re.compile(r"[\s,;|]+|-{4}")


@dataclass(frozen=True)
class ImportResult:
    added: int
    duplicates: int
    blank: int
    invalid: int

    @property
    def skipped(self) -> int:
        return self.duplicates + self.invalid


def parse_codes(text: str, *, csv_format: bool = False) -> tuple[list[tuple[str, str]], int, int]:
    """Split pasted text or a file into (card_no, secret) pairs.

    One code per line; `card_no password` (space, tab, comma, `|` or `----` between) is a pair. Returns
    the pairs, the count of blank lines and the count of lines that are neither.
    """
    pairs: list[tuple[str, str]] = []
    blank = invalid = 0
    rows = csv.reader(io.StringIO(text)) if csv_format else (line for line in text.splitlines())
    for row in rows:
        parts = [p.strip() for p in row] if csv_format else _PAIR_SEPARATOR.split(row.strip())
        parts = [p for p in parts if p]
        if not parts:
            blank += 1
        elif len(parts) > 2 or any(len(p) > MAX_CODE_LENGTH for p in parts):
            invalid += 1
        else:
            pairs.append(("", parts[0]) if len(parts) == 1 else (parts[0], parts[1]))
    return pairs, blank, invalid


#: Codes stored per transaction: a large import commits as it goes, so its progress can be shown and a
#: run cut short keeps what it stored (a re-run skips those codes as duplicates).
IMPORT_CHUNK = 2000

ImportProgress = Callable[[int, int], None]


def import_codes(
    sku: Sku,
    text: str,
    *,
    csv_format: bool = False,
    chunk_size: int = IMPORT_CHUNK,
    progress: ImportProgress | None = None,
) -> ImportResult:
    """Add codes to a Sku's stock in bulk; duplicates in the batch or already in stock are skipped.

    The distinct codes are stored `chunk_size` at a time, each chunk in its own transaction;
    `progress(done, total)` is called after each, counting distinct codes.
    """
    pairs, blank, invalid = parse_codes(text, csv_format=csv_format)
    by_fingerprint: dict[str, tuple[str, str]] = {}
    for card_no, secret in pairs:
        by_fingerprint.setdefault(crypto.fingerprint(card_no, secret), (card_no, secret))
    # Staff tell masked codes apart by the batch (when it was imported) and the line in it.
    batch = timezone.localtime().strftime("%m%d-%H%M%S")
    distinct = list(by_fingerprint.items())
    added = 0
    for start in range(0, len(distinct), chunk_size):
        added += _add_codes(sku, distinct[start : start + chunk_size], batch=batch, first_position=start + 1)
        if progress:
            progress(min(start + chunk_size, len(distinct)), len(distinct))
    # A concurrent import into the same Sku can make `added` overshoot; never report negative duplicates.
    return ImportResult(added=added, duplicates=max(len(pairs) - added, 0), blank=blank, invalid=invalid)


def _add_codes(sku: Sku, codes: list[tuple[str, tuple[str, str]]], *, batch: str, first_position: int) -> int:
    """Store (fingerprint, (card_no, secret)) codes the Sku does not hold yet; returns how many were added."""
    fingerprints = [fp for fp, _code in codes]
    existing = set(CardCode.objects.filter(sku=sku, fingerprint__in=fingerprints).values_list("fingerprint", flat=True))
    new_codes = [
        CardCode(
            sku=sku,
            fingerprint=fp,
            card_no_encrypted=crypto.encrypt(card_no) if card_no else "",
            card_no_tail=card_no[-2:],
            batch=batch,
            position=position,
            secret_encrypted=crypto.encrypt(secret),
        )
        for position, (fp, (card_no, secret)) in enumerate(codes, start=first_position)
        if fp not in existing
    ]
    with transaction.atomic():
        before = CardCode.objects.filter(sku=sku).count()
        # ignore_conflicts: a concurrent import of the same code loses quietly to the unique constraint.
        CardCode.objects.bulk_create(new_codes, batch_size=2000, ignore_conflicts=True)
        added = CardCode.objects.filter(sku=sku).count() - before
        if added:
            stock_changed([sku.product_id])
    return added


def import_summary(result: ImportResult) -> str:
    return _(
        "Imported %(added)s codes; skipped %(duplicates)s duplicates, %(invalid)s invalid lines "
        "and %(blank)s blank lines."
    ) % {"added": result.added, "duplicates": result.duplicates, "invalid": result.invalid, "blank": result.blank}


def start_code_import(sku: Sku, text: str, *, csv_format: bool, actor: User) -> AdminJob:
    """Queue the import of `text` into `sku` as a back-office job; its task runs after this commits."""
    from .tasks import import_codes_task  # the tasks module imports these services

    with transaction.atomic():
        job = jobs.create_job(
            AdminJob.Kind.CODE_IMPORT,
            requested_by=actor,
            parameters={
                "sku": sku.pk,
                "sku_label": str(sku),
                "csv": csv_format,
                "language": translation.get_language(),
            },
            input_text=text,
        )
        transaction.on_commit(lambda: enqueue(import_codes_task, job.pk))
    return job


def run_code_import(job_id: int) -> ImportResult:
    """Do the work of a card-code import job, reporting progress on the job as each chunk commits.

    Safe to run again after a run that died: the codes it stored are skipped as duplicates.
    """
    job = jobs.start(job_id)
    sku = Sku.objects.get(pk=job.parameters["sku"])
    result = import_codes(
        sku,
        jobs.read_input(job),
        csv_format=job.parameters.get("csv", False),
        progress=lambda done, total: jobs.report_progress(job, done, total),
    )
    with translation.override(job.parameters.get("language")):
        summary = import_summary(result)
    jobs.finish(job, result={**asdict(result), "summary": summary})
    logger.info("import job %s into sku %s: %s", job.pk, sku.pk, result)
    return result


def set_shelf(product: Product, *, on_shelf: bool, actor: User | None) -> Product:
    """Put a product on the shelf or take it off; only an approved product may go on."""
    with transaction.atomic():
        product = lock_product(product.pk)
        if on_shelf and product.status != Product.Status.APPROVED:
            raise ModerationError(
                _("“%(product)s” is not approved, so it cannot go on the shelf.") % {"product": product}
            )
        product.is_on_shelf = on_shelf
        product.save(update_fields=["is_on_shelf", "updated_at"])
        catalog_changed()
    logger.info("product %s on_shelf=%s by %s", product.pk, on_shelf, actor)
    return product


def void_codes(code_ids: Iterable[int], *, actor: User | None) -> int:
    """Withdraw codes from sale; returns how many were voided.

    Only available codes are voided: a reserved or sold code belongs to an order and stays as it is.
    """
    code_ids = list(code_ids)
    products = set(CardCode.objects.filter(pk__in=code_ids).values_list("sku__product_id", flat=True))
    voided = CardCode.objects.filter(pk__in=code_ids, status=CardCode.Status.AVAILABLE).update(
        status=CardCode.Status.VOID
    )
    if voided:
        stock_changed(products)
    logger.info("%s card codes voided by %s", voided, actor)
    return voided


def reveal_code(code: CardCode, *, user: User, ip: str | None) -> tuple[str, str]:
    """Decrypt one code for a staff member and record that they saw it; returns (card_no, secret).

    Raises PermissionDenied, writing nothing, unless the user holds `catalog.reveal_cardcode`.
    """
    if not (user.is_active and user.is_staff and user.has_perm("catalog.reveal_cardcode")):
        raise PermissionDenied
    card_no, secret = code.card_no, code.secret
    with transaction.atomic():
        CardCodeReveal.objects.create(code=code, user=user, ip=ip or None)
        audit.record(audit.Kind.CODE_REVEAL, actor=user, target=code, after={"sku": code.sku_id}, ip=ip)
    logger.info("card code %s revealed to %s from %s", code.pk, user, ip)
    return card_no, secret


def store_upstream_codes(sku: Sku, *, order_id: int, codes: Iterable[tuple[str, str]]) -> int:
    """Keep the codes a supplier delivered for an order as sold codes of `sku`, encrypted like our own.

    A code this Sku already holds (the supplier sent one it sold before) raises IntegrityError, which
    rolls the delivery back: the order goes to staff rather than out with a used code.
    """
    now = timezone.now()
    rows = [
        CardCode(
            sku=sku,
            fingerprint=crypto.fingerprint(card_no, secret),
            card_no_encrypted=crypto.encrypt(card_no) if card_no else "",
            card_no_tail=card_no[-2:],
            secret_encrypted=crypto.encrypt(secret),
            status=CardCode.Status.SOLD,
            order_id=order_id,
            sold_at=now,
        )
        for card_no, secret in codes
    ]
    with transaction.atomic():
        CardCode.objects.bulk_create(rows)
    return len(rows)
