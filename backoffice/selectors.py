"""What the dashboard reads: summary rows for past days, today's figures live, a few bounded lists.

Every query here is bounded by days (at most 30 summary rows, 30 days of product rows) or by a LIMIT;
none reads the order table beyond today's rows.
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, Max, Sum

from catalog.models import Sku
from catalog.selectors import stock_count
from orders.models import STAFF_QUEUE, Order

from . import figures
from .models import DailyProductSummary, DailyProviderSummary, DailySummary, Reconciliation, SignupCohort

ZERO = Decimal("0.00")
PERIODS = (1, 7, 30)


@dataclass
class Period:
    """The sums of a run of days ending today (today live, the days before from their summary rows)."""

    days: int
    gmv: Decimal = ZERO
    paid_orders: int = 0
    refunds: Decimal = ZERO
    refund_count: int = 0
    new_members: int = 0
    active_members: int = 0  # summed per day: member-days, shown as a daily average
    commissions_accrued: Decimal = ZERO
    commissions_paid: Decimal = ZERO
    supplier_cost: Decimal = ZERO
    goods_cost: Decimal = ZERO
    product_views: int = 0

    def add(self, day) -> None:
        for name in self.__dataclass_fields__:
            if name != "days":
                setattr(self, name, getattr(self, name) + getattr(day, name))

    @property
    def aov(self) -> Decimal:
        """客单价: GMV per paid order."""
        return _ratio(self.gmv, self.paid_orders)

    @property
    def daily_active(self) -> Decimal:
        return _ratio(Decimal(self.active_members), self.days, places="0.1")

    @property
    def gross_profit(self) -> Decimal:
        return self.gmv - self.refunds - self.supplier_cost - self.goods_cost - self.commissions_accrued

    @property
    def conversion(self) -> Decimal | None:
        """Paid orders per hundred product page views."""
        return _percent(self.paid_orders, self.product_views)


def _ratio(part: Decimal, whole: int, *, places: str = "0.01") -> Decimal:
    return (part / whole).quantize(Decimal(places), ROUND_HALF_UP) if whole else Decimal(places) * 0


def _percent(part: int, whole: int) -> Decimal | None:
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"), ROUND_HALF_UP) if whole else None


def periods(today: datetime.date, live: figures.DayFigures) -> dict[int, Period]:
    """Today, 7 days and 30 days, each ending today."""
    past = list(DailySummary.objects.filter(day__gte=today - datetime.timedelta(days=29), day__lt=today))
    result = {}
    for days in PERIODS:
        period = Period(days=days)
        period.add(live)
        for row in past:
            if row.day > today - datetime.timedelta(days=days):
                period.add(row)
        result[days] = period
    return result


def daily_series(today: datetime.date, live: figures.DayFigures, *, days: int = 30) -> list[dict]:
    """GMV and paid orders per day for the chart, oldest first, days without sales as zero."""
    rows = {row.day: row for row in DailySummary.objects.filter(day__gte=today - datetime.timedelta(days=days - 1))}
    rows[today] = live
    series = []
    for back in range(days - 1, -1, -1):
        day = today - datetime.timedelta(days=back)
        row = rows.get(day)
        series.append({"day": day, "gmv": row.gmv if row else ZERO, "orders": row.paid_orders if row else 0})
    return series


def provider_rates(today: datetime.date, live: figures.DayFigures, *, days: int) -> list[dict]:
    """Payments started and confirmed per provider over `days` days ending today, with the success rate."""
    totals: dict[str, dict] = {}
    past = DailyProviderSummary.objects.filter(day__gt=today - datetime.timedelta(days=days), day__lt=today)
    for row in [*past.values("provider", "started", "confirmed", "amount"), *_live_providers(live)]:
        total = totals.setdefault(row["provider"], {"provider": row["provider"], "started": 0, "confirmed": 0})
        total["started"] += row["started"]
        total["confirmed"] += row["confirmed"]
    for total in totals.values():
        total["rate"] = _percent(total["confirmed"], total["started"])
    return sorted(totals.values(), key=lambda total: -total["started"])


def _live_providers(live: figures.DayFigures) -> list[dict]:
    return [{"provider": provider, **row} for provider, row in live.providers.items()]


def best_sellers(today: datetime.date, live: figures.DayFigures, *, days: int = 30, limit: int = 10) -> dict:
    """The top goods of `days` days ending today, by revenue and by quantity."""
    sold: dict[int, dict] = {}
    past = (
        DailyProductSummary.objects.filter(day__gt=today - datetime.timedelta(days=days), day__lt=today)
        .values("product_id")
        .annotate(quantity=Sum("quantity"), revenue=Sum("revenue"), title=Max("title"))
    )
    for row in past:
        sold[row["product_id"]] = dict(row)
    for product_id, row in live.products.items():
        entry = sold.setdefault(
            product_id, {"product_id": product_id, "title": row["title"], "quantity": 0, "revenue": ZERO}
        )
        entry["quantity"] += row["quantity"]
        entry["revenue"] += row["revenue"]
    goods = list(sold.values())
    return {
        "revenue": sorted(goods, key=lambda row: (-row["revenue"], row["product_id"]))[:limit],
        "quantity": sorted(goods, key=lambda row: (-row["quantity"], row["product_id"]))[:limit],
    }


def low_stock(*, limit: int = 10) -> list[Sku]:
    """Active SKUs at or below their low-stock mark, emptiest first."""
    return list(
        Sku.objects.filter(is_active=True, low_stock_at__isnull=False)
        .select_related("product")
        .annotate(stock=stock_count())
        .filter(stock__lte=F("low_stock_at"))
        .order_by("stock", "id")[:limit]
    )


def staff_queue_length() -> int:
    return Order.objects.filter(status__in=STAFF_QUEUE).count()


def retention(today: datetime.date, *, cohorts: int = 30) -> dict:
    """Day-1 / 7 / 30 retention over the sign-up cohorts of the last `cohorts` days whose figure is known."""
    rows = list(SignupCohort.objects.filter(day__gte=today - datetime.timedelta(days=cohorts + 30), day__lt=today))
    result = {}
    for after in (1, 7, 30):
        known = [row for row in rows if getattr(row, f"returned_day_{after}") is not None and row.members][:cohorts]
        members = sum(row.members for row in known)
        returned = sum(getattr(row, f"returned_day_{after}") for row in known)
        result[after] = {"rate": _percent(returned, members), "members": members, "cohorts": len(known)}
    return result


def repeat_rate(today: datetime.date) -> dict:
    """The repeat-purchase rate of the 30 days ending yesterday (its summary row)."""
    row = DailySummary.objects.filter(day__lt=today).order_by("-day").first()
    if row is None:
        return {"rate": None, "buyers": 0, "day": None}
    return {"rate": _percent(row.repeat_buyers_30d, row.buyers_30d), "buyers": row.buyers_30d, "day": row.day}


def latest_reconciliation() -> Reconciliation | None:
    return Reconciliation.objects.order_by("-day").first()
