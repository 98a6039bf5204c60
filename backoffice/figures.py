"""The numbers of one business day, measured from orders, payments and ledgers.

`measure_day` reads one day's rows only (each query is bounded by an indexed time range), so it serves
both the nightly summary and the dashboard's live "today". Definitions, as the dashboard states them:

- GMV: the totals of orders paid that day (wallet payments included), before refunds.
- Active members: members who placed an order that day, paid or not.
- Repeat-purchase rate: of the members who paid for an order in the 30 days ending that day, the share
  who paid for two or more.
- Day-N retention of a sign-up cohort: of the members who signed up on day D, the share who placed an
  order on day D+N.
- Conversion: paid orders per product page view, the same day.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Q, Sum
from django.utils import timezone

from accounts.models import User
from catalog import views_counter
from catalog.models import Sku
from distribution.models import Commission, Withdrawal
from orders.models import PAID_STATUSES, Order
from orders.models.upstream import UpstreamPurchase
from payments.models import Payment, Refund

ZERO = Decimal("0.00")


def bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The first instant of `day` and of the day after, in the shop's time zone (Asia/Shanghai)."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    return start, start + datetime.timedelta(days=1)


def shop_today() -> datetime.date:
    return timezone.localdate()


@dataclass
class DayFigures:
    day: datetime.date
    gmv: Decimal = ZERO
    paid_orders: int = 0
    buyers: int = 0
    refunds: Decimal = ZERO
    refund_count: int = 0
    new_members: int = 0
    active_members: int = 0
    commissions_accrued: Decimal = ZERO
    commissions_paid: Decimal = ZERO
    supplier_cost: Decimal = ZERO
    goods_cost: Decimal = ZERO
    product_views: int = 0
    buyers_30d: int = 0
    repeat_buyers_30d: int = 0
    providers: dict[str, dict] = field(default_factory=dict)
    products: dict[int, dict] = field(default_factory=dict)


def paid_between(start: datetime.datetime, end: datetime.datetime):
    # status IN (...) AND paid_at in range: the (status, paid_at) index answers it.
    return Order.objects.filter(status__in=PAID_STATUSES, paid_at__gte=start, paid_at__lt=end, total_currency="CNY")


def measure_day(day: datetime.date, *, with_repeat_rate: bool = True) -> DayFigures:
    start, end = bounds(day)
    figures = DayFigures(day=day)
    _orders(figures, start, end)
    _refunds(figures, start, end)
    _members(figures, start, end)
    _commissions(figures, start, end)
    _costs(figures, start, end)
    _providers(figures, start, end)
    _products(figures, start, end)
    figures.product_views = views_counter.views_on(day)
    if with_repeat_rate:
        _repeat_rate(figures, end)
    return figures


def _orders(figures: DayFigures, start, end) -> None:
    paid = paid_between(start, end).aggregate(gmv=Sum("total"), count=Count("id"), buyers=Count("user", distinct=True))
    figures.gmv = paid["gmv"] or ZERO
    figures.paid_orders = paid["count"]
    figures.buyers = paid["buyers"]


def _refunds(figures: DayFigures, start, end) -> None:
    done = Refund.objects.filter(
        state=Refund.State.SUCCEEDED, completed_at__gte=start, completed_at__lt=end, amount_currency="CNY"
    ).aggregate(total=Sum("amount"), count=Count("id"))
    figures.refunds = done["total"] or ZERO
    figures.refund_count = done["count"]


def _members(figures: DayFigures, start, end) -> None:
    figures.new_members = User.objects.filter(date_joined__gte=start, date_joined__lt=end).count()
    figures.active_members = (
        Order.objects.filter(created_at__gte=start, created_at__lt=end, user__isnull=False)
        .values("user")
        .distinct()
        .count()
    )


def _commissions(figures: DayFigures, start, end) -> None:
    accrued = Commission.objects.filter(created_at__gte=start, created_at__lt=end, amount_currency="CNY")
    figures.commissions_accrued = accrued.aggregate(total=Sum("amount"))["total"] or ZERO
    paid = Withdrawal.objects.filter(
        state=Withdrawal.State.PAID, finished_at__gte=start, finished_at__lt=end, amount_currency="CNY"
    )
    figures.commissions_paid = paid.aggregate(total=Sum("amount"))["total"] or ZERO


def _costs(figures: DayFigures, start, end) -> None:
    bought = UpstreamPurchase.objects.filter(
        state=UpstreamPurchase.State.DELIVERED, finished_at__gte=start, finished_at__lt=end, cost_currency="CNY"
    )
    figures.supplier_cost = bought.aggregate(total=Sum("cost"))["total"] or ZERO
    # Our own codes cost what staff entered as the SKU's cost; SKUs without a cost count as free.
    own = paid_between(start, end).filter(
        sku__delivery_kind=Sku.DeliveryKind.CARD_CODES, sku__cost__isnull=False, sku__cost_currency="CNY"
    )
    cost = Sum(F("sku__cost") * F("quantity"), output_field=DecimalField(max_digits=16, decimal_places=2))
    figures.goods_cost = own.aggregate(total=cost)["total"] or ZERO


def _providers(figures: DayFigures, start, end) -> None:
    rows = (
        Payment.objects.filter(created_at__gte=start, created_at__lt=end, amount_currency="CNY")
        .values("provider")
        .annotate(
            started=Count("id"),
            confirmed=Count("id", filter=Q(state=Payment.State.CONFIRMED)),
            amount=Sum("amount", filter=Q(state=Payment.State.CONFIRMED)),
        )
    )
    figures.providers = {
        row["provider"]: {"started": row["started"], "confirmed": row["confirmed"], "amount": row["amount"] or ZERO}
        for row in rows
    }


def _products(figures: DayFigures, start, end) -> None:
    rows = (
        paid_between(start, end)
        .values("sku__product_id", "product_title")
        .annotate(quantity=Sum("quantity"), revenue=Sum("total"))
    )
    for row in rows:
        sold = figures.products.setdefault(
            row["sku__product_id"], {"title": row["product_title"], "quantity": 0, "revenue": ZERO}
        )
        sold["quantity"] += row["quantity"]
        sold["revenue"] += row["revenue"]


def _repeat_rate(figures: DayFigures, end) -> None:
    per_buyer = (
        paid_between(end - datetime.timedelta(days=30), end)
        .filter(user__isnull=False)
        .values("user")
        .annotate(orders=Count("id"))
    )
    counts = per_buyer.aggregate(buyers=Count("user"), repeat=Count("user", filter=Q(orders__gte=2)))
    figures.buyers_30d = counts["buyers"]
    figures.repeat_buyers_30d = counts["repeat"]


def cohort_returns(cohort_day: datetime.date, after_days: int) -> int:
    """How many members who signed up on `cohort_day` placed an order `after_days` days later."""
    joined_start, joined_end = bounds(cohort_day)
    start, end = bounds(cohort_day + datetime.timedelta(days=after_days))
    return (
        Order.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            user__date_joined__gte=joined_start,
            user__date_joined__lt=joined_end,
        )
        .values("user")
        .distinct()
        .count()
    )


def cohort_size(cohort_day: datetime.date) -> int:
    start, end = bounds(cohort_day)
    return User.objects.filter(date_joined__gte=start, date_joined__lt=end).count()
