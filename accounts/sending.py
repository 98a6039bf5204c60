"""What messages' e-mails and staff alerts share: a send is claimed before it happens, so two tasks
never both send, and a beat sweep finds what a lost task left unsent."""

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone


def claim(unsent: QuerySet, *, claimed_field: str) -> bool:
    """Take the right to send the row of `unsent` (already filtered to one row not yet sent).

    One UPDATE whose own conditions PostgreSQL checks again on the row it waited for: of two tasks
    claiming at once, the second finds the claim taken and updates nothing. A claim older than
    MAIL_CLAIM_STALE_AFTER belongs to a worker that died mid-send and may be taken over.
    """
    now = timezone.now()
    stale = now - settings.MAIL_CLAIM_STALE_AFTER
    claimable = unsent.filter(Q(**{f"{claimed_field}__isnull": True}) | Q(**{f"{claimed_field}__lt": stale}))
    return bool(claimable.update(**{claimed_field: now}))


def owed(unsent: QuerySet, *, limit: int) -> list[int]:
    """Ids of `unsent` rows written between MAIL_SWEEP_WITHIN and MAIL_SWEEP_AFTER ago: their task is lost."""
    now = timezone.now()
    written = unsent.filter(
        created_at__lte=now - settings.MAIL_SWEEP_AFTER, created_at__gte=now - settings.MAIL_SWEEP_WITHIN
    )
    return list(written.order_by("pk").values_list("pk", flat=True)[:limit])
