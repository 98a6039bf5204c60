"""What staff see of each supplier: success rate, delivery time, recent failures and profit per order,
from the upstream purchases of the last STATS_DAYS days."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from catalog.models import Supplier
from kamen.money import cny

from .models import UpstreamPurchase

STATS_DAYS = 30
P = UpstreamPurchase.State


@dataclass(frozen=True)
class SupplierFigures:
    attempts: int
    delivered: int
    failed: int
    average_seconds: float | None
    revenue: Decimal
    cost: Decimal

    @property
    def success_rate(self) -> float | None:
        finished = self.delivered + self.failed
        return self.delivered / finished if finished else None

    @property
    def profit_per_order(self) -> Decimal | None:
        return cny((self.revenue - self.cost) / self.delivered).amount if self.delivered else None


def figures_by_supplier(supplier_ids: list[int], *, now=None) -> dict[int, SupplierFigures]:
    """One grouped query for every supplier on a page."""
    since = (now or timezone.now()) - timedelta(days=STATS_DAYS)
    took = ExpressionWrapper(F("finished_at") - F("created_at"), output_field=DurationField())
    delivered = Q(state=P.DELIVERED)
    rows = (
        UpstreamPurchase.objects.filter(supplier_id__in=supplier_ids, created_at__gte=since)
        .order_by()
        .values("supplier_id")
        .annotate(
            attempts=Count("id"),
            delivered=Count("id", filter=delivered),
            failed=Count("id", filter=Q(state=P.FAILED)),
            took=Avg(took, filter=delivered),
            revenue=Sum("order__total", filter=delivered),
            cost=Sum("cost", filter=delivered),
        )
    )
    figures = {}
    for row in rows:
        figures[row["supplier_id"]] = SupplierFigures(
            attempts=row["attempts"],
            delivered=row["delivered"],
            failed=row["failed"],
            average_seconds=row["took"].total_seconds() if row["took"] is not None else None,
            revenue=row["revenue"] or Decimal("0"),
            cost=row["cost"] or Decimal("0"),
        )
    return figures


def recent_failures(supplier: Supplier, limit: int = 10) -> list[UpstreamPurchase]:
    failed = UpstreamPurchase.objects.filter(supplier=supplier, state__in=[P.FAILED, P.UNKNOWN])
    return list(failed.select_related("order").order_by("-id")[:limit])
