"""Settlement (结算): pending commissions become available once their hold is over, their order is
delivered and no refund of it is open. Run by beat, in batches, each batch one transaction."""

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from orders.models import Order
from payments.models import Refund

from ..locks import lock_commissions_due
from ..models import Commission, LedgerEntry
from .ledger import post_many

BATCH = 1000


def due_commissions(now: datetime):
    open_refund = Refund.objects.filter(payment__order_link__order=OuterRef("order_id"), state__in=Refund.OPEN)
    return (
        Commission.objects.filter(state=Commission.State.PENDING, settle_after__lte=now)
        .filter(order__status=Order.Status.DELIVERED)
        .exclude(order__refund_status=Order.RefundStatus.FULL)
        .exclude(Exists(open_refund))
    )


def settle_due_commissions(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Settle every commission due at `now`; returns how many. Safe beside a second run and beside
    refunds: each takes the rows the other does not hold (SKIP LOCKED)."""
    now = now or timezone.now()
    settled = 0
    while True:
        count = _settle_batch(now, batch)
        settled += count
        if count < batch:
            return settled


def _settle_batch(now: datetime, limit: int) -> int:
    with transaction.atomic():
        # Only what settling reads: a thousand full rows with their money fields cost more than the writes.
        fields = ("earner_id", "amount", "amount_currency", "reversed", "reversed_currency")
        due = lock_commissions_due(due_commissions(now).only(*fields), limit=limit)
        if not due:
            return 0
        post_many(
            [
                LedgerEntry(
                    member_id=c.earner_id,
                    kind=LedgerEntry.Kind.SETTLED,
                    amount=c.remaining,
                    commission=c,
                    reference=f"c{c.pk}",
                    created_at=now,
                )
                for c in due
            ]
        )
        Commission.objects.filter(pk__in=[c.pk for c in due]).update(state=Commission.State.SETTLED, settled_at=now)
    return len(due)
