"""Product moderation (商品审核): submit, approve, reject, and the re-review of a changed product.

Every decision happens under the product's row lock, writes a MODERATION row of the audit log in the
same transaction, and tells the submitter of a rejection through their message centre. A product that
hits the prohibited-goods policy (`catalog.policy`) is never approved.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import inbox
from accounts.models import Message, User
from kamen import audit

from . import policy
from .cache import catalog_changed
from .locks import lock_product
from .models import Product, Supplier

logger = logging.getLogger(__name__)

APPROVE_PERMISSION = "catalog.approve_product"
# What shoppers read of a product: an edit of any of these by someone who may not approve sends an
# approved product back to review.
REVIEWED_TEXT = ("title", "brand", "keywords", "description", "instructions")
# The moderation fields an audit row keeps, as they were before and after a decision.
AUDITED = ("status", "rejection_reason", "is_on_shelf", "review_cause")


class ModerationError(Exception):
    """A moderation or shelf move that is not allowed; nothing was written."""


# The statuses a product may come from for each moderation decision.
MODERATION_MOVES: dict[str, set[str]] = {
    Product.Status.PENDING: {Product.Status.DRAFT, Product.Status.REJECTED},
    Product.Status.APPROVED: {Product.Status.DRAFT, Product.Status.PENDING, Product.Status.REJECTED},
    Product.Status.REJECTED: {Product.Status.DRAFT, Product.Status.PENDING, Product.Status.APPROVED},
}
DECISIONS = (Product.Status.APPROVED, Product.Status.REJECTED)


def may_decide(user: User | None) -> bool:
    """Whether `user` may approve or reject; None is the shop itself (a command, a migration)."""
    return user is None or (user.is_active and user.is_staff and user.has_perm(APPROVE_PERMISSION))


def moderate(product: Product, status: str, *, actor: User | None, reason: str = "", ip: str | None = None) -> Product:
    """Submit (PENDING), approve or reject a product, audited; rejecting needs a reason.

    Raises PermissionDenied when `actor` may not decide, and ModerationError, writing nothing, for a
    move MODERATION_MOVES forbids or an approval of a product the prohibited-goods policy forbids.
    """
    reason = reason.strip()
    if status == Product.Status.REJECTED and not reason:
        raise ModerationError(_("A rejection needs a reason."))
    if status in DECISIONS and not may_decide(actor):
        raise PermissionDenied
    with transaction.atomic():
        product = lock_product(product.pk)
        _check_move(product, status)
        before = audit.snapshot(product, AUDITED)
        set_moderation(product, status, reason=reason, actor=actor)
        before, after = audit.changed(before, audit.snapshot(product, AUDITED))
        action = audit.record(
            audit.Kind.MODERATION, actor=actor, target=product, before=before, after=after, note=reason, ip=ip
        )
        if status == Product.Status.REJECTED:
            _tell_submitter(product, reason=reason, actor=actor, event=action.pk)
    logger.info("product %s moderated to %s by %s", product.pk, status, actor)
    return product


def _check_move(product: Product, status: str) -> None:
    if product.status not in MODERATION_MOVES.get(status, set()):
        raise ModerationError(
            _("“%(product)s” cannot move from %(from)s to %(to)s.")
            % {"product": product, "from": product.get_status_display(), "to": Product.Status(status).label}
        )
    if status == Product.Status.APPROVED:
        hit = policy.check(product)
        if hit is not None:
            raise ModerationError(_("“%(product)s” cannot be approved: %(hit)s") % {"product": product, "hit": hit})


def set_moderation(product: Product, status: str, *, reason: str = "", actor: User | None = None) -> Product:
    """Move a locked product to `status` (no checks: `moderate` makes them); off the shelf unless approved."""
    product.status = status
    product.rejection_reason = reason if status == Product.Status.REJECTED else ""
    if status != Product.Status.APPROVED:
        product.is_on_shelf = False
    if status == Product.Status.PENDING:
        product.review_cause = Product.ReviewCause.SUBMITTED
        product.review_changes = []
        product.submitted_by = actor if getattr(actor, "pk", None) else None
        product.submitted_at = timezone.now()
    else:
        product.review_cause = ""
    product.save(update_fields=[*_MODERATION_FIELDS, "rejection_reason", "updated_at"])
    catalog_changed()
    return product


_MODERATION_FIELDS = ("status", "is_on_shelf", "review_cause", "review_changes", "submitted_by", "submitted_at")


def _tell_submitter(product: Product, *, reason: str, actor: User | None, event: int) -> None:
    """An on-site message (and e-mail) to whoever submitted the product; none for the shop's own arrivals."""
    submitter = product.submitted_by
    if submitter is None or submitter == actor or not submitter.is_active:
        return
    inbox.notify(
        submitter,
        email=submitter.email,
        kind=Message.Kind.MODERATION,
        key=f"moderation:{event}",
        link=reverse("admin:catalog_product_change", args=[product.pk]),
        product=product.title,
        reason=reason,
    )


# ------------------------------------------------------------------------------ re-review of an edit


def content_of(product: Product) -> dict[str, Any]:
    """What shoppers see of a product, as the audit log keeps it: compared before and after an edit."""
    return {
        **audit.snapshot(product, REVIEWED_TEXT),
        "category": str(product.category),
        "image": product.image.name or "",
        "skus": list(product.skus.order_by("sort_order", "id").values_list("name", flat=True)),
    }


def review_edit(product: Product, *, before: dict[str, Any], actor: User, ip: str | None = None) -> bool:
    """After `actor` saved `product`, send it back to review if it was approved and what shoppers see
    changed, unless `actor` may approve and the product hits no rule. Returns whether it went back.

    `before` is `content_of` the product as it was. Call it in the transaction of the edit.
    """
    with transaction.atomic():
        product = lock_product(product.pk)
        before, after = audit.changed(before, content_of(product))
        if product.status != Product.Status.APPROVED or not after:
            return False
        hit = policy.check(product)
        if hit is None and may_decide(actor):
            return False
        product.status = Product.Status.PENDING
        product.is_on_shelf = False
        product.review_cause = Product.ReviewCause.CHANGED
        product.review_changes = list(after)
        product.submitted_by = actor
        product.submitted_at = timezone.now()
        product.save(update_fields=[*_MODERATION_FIELDS, "updated_at"])
        audit.record(
            audit.Kind.MODERATION,
            actor=actor,
            target=product,
            before={"status": Product.Status.APPROVED, **before},
            after={"status": Product.Status.PENDING, **after},
            note=str(hit) if hit else _("Changed after approval"),
            ip=ip,
        )
        catalog_changed()
    logger.info("product %s back to review after an edit by %s", product.pk, actor)
    return True


def queue_found_upstream(product: Product, *, supplier: Supplier) -> None:
    """Put a product the supplier sync just created in the review queue, audited as the shop's own act."""
    Product.objects.filter(pk=product.pk).update(
        status=Product.Status.PENDING, review_cause=Product.ReviewCause.UPSTREAM, submitted_at=timezone.now()
    )
    audit.record(
        audit.Kind.MODERATION,
        actor=None,
        target=product,
        after={"status": Product.Status.PENDING, "review_cause": Product.ReviewCause.UPSTREAM},
        note=_("Found at %(supplier)s") % {"supplier": supplier.name},
    )
