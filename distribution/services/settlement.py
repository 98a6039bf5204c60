"""Settlement (结算): pending commissions become available once their hold is over, their order is
delivered and no refund of it is open. Run by beat, in batches, each batch one transaction."""

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from kamen.money import cny
from orders.models import Order
from payments.models import Refund

from ..locks import lock_commissions_due, lock_referrers
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
        due = lock_commissions_due(due_commissions(now), limit=limit)
        if not due:
            return 0
        accounts = lock_referrers({c.earner_id for c in due})
        moves = defaultdict(list)
        for commission in due:
            moves[commission.earner_id].append((cny(commission.remaining.amount), f"c{commission.pk}", commission))
        post_many(accounts, LedgerEntry.Kind.SETTLED, moves, now=now)
        Commission.objects.filter(pk__in=[c.pk for c in due]).update(state=Commission.State.SETTLED, settled_at=now)
    return len(due)
