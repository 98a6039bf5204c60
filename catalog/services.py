"""Catalog writes: card-code import, the shelf and card codes (moderation itself: catalog.moderation)."""

import csv
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from kamen import audit

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


def import_codes(sku: Sku, text: str, *, csv_format: bool = False) -> ImportResult:
    """Add codes to a Sku's stock in bulk; duplicates in the batch or already in stock are skipped."""
    pairs, blank, invalid = parse_codes(text, csv_format=csv_format)
    by_fingerprint: dict[str, tuple[str, str]] = {}
    for card_no, secret in pairs:
        by_fingerprint.setdefault(crypto.fingerprint(card_no, secret), (card_no, secret))
    existing: set[str] = set()
    fingerprints = list(by_fingerprint)
    for start in range(0, len(fingerprints), 5000):
        chunk = fingerprints[start : start + 5000]
        existing.update(CardCode.objects.filter(sku=sku, fingerprint__in=chunk).values_list("fingerprint", flat=True))
    # Staff tell masked codes apart by the batch (when it was imported) and the line in it.
    batch = timezone.localtime().strftime("%m%d-%H%M%S")
    new_codes = [
        CardCode(
            sku=sku,
            fingerprint=fp,
            card_no_encrypted=crypto.encrypt(card_no) if card_no else "",
            card_no_tail=card_no[-2:],
            batch=batch,
            position=line,
            secret_encrypted=crypto.encrypt(secret),
        )
        for line, (fp, (card_no, secret)) in enumerate(by_fingerprint.items(), start=1)
        if fp not in existing
    ]
    with transaction.atomic():
        before = CardCode.objects.filter(sku=sku).count()
        # ignore_conflicts: a concurrent import of the same code loses quietly to the unique constraint.
        CardCode.objects.bulk_create(new_codes, batch_size=2000, ignore_conflicts=True)
        added = CardCode.objects.filter(sku=sku).count() - before
        if added:
            stock_changed([sku.product_id])
    # A concurrent import into the same Sku can make `added` overshoot; never report negative duplicates.
    return ImportResult(added=added, duplicates=max(len(pairs) - added, 0), blank=blank, invalid=invalid)


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
