"""Reads of distribution with their access rules: a member sees only their own commissions, ledger and
withdrawals, and of their downline only three levels, with e-mails masked. Anything else is a 404."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.http import Http404
from django.utils import timezone

from accounts.models import User

from .models import BALANCE_MOVES, BALANCES, Commission, LedgerEntry, Referrer, Withdrawal

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Balances:
    """A member's commission balances: pending (earned, in the hold), available (to withdraw; below
    zero when a refund took back what was already withdrawn), held for withdrawals, withdrawn."""

    pending: Decimal = ZERO
    available: Decimal = ZERO
    held: Decimal = ZERO
    withdrawn: Decimal = ZERO


def balances_of(user: User | int) -> Balances:
    """The member's balances: the sums of their ledger entries, moved as BALANCE_MOVES says. One query."""
    member_id = user if isinstance(user, int) else user.pk
    per_kind = dict(
        LedgerEntry.objects.filter(member_id=member_id, amount_currency="CNY")
        .values("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )
    sums = dict.fromkeys(BALANCES, ZERO)
    for kind, total in per_kind.items():
        source, target = BALANCE_MOVES[kind]
        if source:
            sums[source] -= total
        if target:
            sums[target] += total
    return Balances(**sums)


def mask_email(email: str) -> str:
    """「ab***@qq.com」: enough for a reseller to recognise a friend, not to write to a stranger."""
    name, _at, domain = email.partition("@")
    return f"{name[:2]}***@{domain}" if domain else "***"


@dataclass(frozen=True)
class Earnings:
    today: Decimal
    this_month: Decimal
    total: Decimal


def earnings(user: User, *, now: datetime | None = None) -> Earnings:
    """What the member earned (commissions and rewards, less what refunds took back), by when earned."""
    now = timezone.localtime(now)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = day_start.replace(day=1)
    net = Coalesce(Sum("amount"), ZERO) - Coalesce(Sum("reversed"), ZERO)
    mine = Commission.objects.filter(earner=user, amount_currency="CNY")
    figures = mine.aggregate(
        total=net,
        today=Coalesce(Sum("amount", filter=Q(created_at__gte=day_start)), ZERO)
        - Coalesce(Sum("reversed", filter=Q(created_at__gte=day_start)), ZERO),
        month=Coalesce(Sum("amount", filter=Q(created_at__gte=month_start)), ZERO)
        - Coalesce(Sum("reversed", filter=Q(created_at__gte=month_start)), ZERO),
    )
    return Earnings(today=figures["today"], this_month=figures["month"], total=figures["total"])


def daily_earnings(user: User, *, days: int = 30, now: datetime | None = None) -> list[tuple[date, Decimal]]:
    """Earned per day (shop time) over the last `days` days, oldest first, days without any at zero."""
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    rows = (
        Commission.objects.filter(earner=user, amount_currency="CNY", created_at__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(earned=Sum("amount") - Sum("reversed"))
    )
    per_day = {row["day"]: row["earned"] for row in rows}
    return [(first + timedelta(days=n), per_day.get(first + timedelta(days=n), ZERO)) for n in range(days)]


def best_products(user: User, *, limit: int = 5) -> list[dict]:
    """The products the member's downline bought most of (业绩): sales, orders and what the member earned."""
    return list(
        Commission.objects.filter(earner=user, kind=Commission.Kind.SALE, amount_currency="CNY")
        .values("order__sku__product_id", "order__product_title")
        .annotate(orders=Count("order", distinct=True), sales=Sum("base"), earned=Sum("amount") - Sum("reversed"))
        .order_by("-sales", "-orders")[:limit]
    )


def downline_counts(user: User) -> dict[int, int]:
    below = Referrer.objects.filter(Q(inviter=user) | Q(upline_2=user) | Q(upline_3=user))
    counts = below.aggregate(
        one=Count("pk", filter=Q(inviter=user)),
        two=Count("pk", filter=Q(upline_2=user)),
        three=Count("pk", filter=Q(upline_3=user)),
    )
    return {1: counts["one"], 2: counts["two"], 3: counts["three"]}


def downline(user: User, *, level: int) -> QuerySet[Referrer]:
    """The members `level` (1–3) below `user`, newest first, with what each has bought in all."""
    column = {1: "inviter", 2: "upline_2", 3: "upline_3"}.get(level)
    if column is None:
        raise Http404
    return (
        Referrer.objects.filter(**{column: user})
        .select_related("user", "user__level", "inviter")
        .order_by("-bound_at", "-pk")
    )


def get_downline_member(user: User, member_id: int) -> tuple[Referrer, int]:
    """One member of `user`'s downline and their level below `user`; 404 for anyone else."""
    row = Referrer.objects.filter(user_id=member_id).select_related("user", "user__level").first()
    if row is None:
        raise Http404
    for level, upline_id in enumerate(row.upline(), start=1):
        if upline_id == user.pk:
            return row, level
    raise Http404


def commissions_of(user: User, *, kind: str = "", state: str = "", tier: str = "") -> QuerySet[Commission]:
    mine = Commission.objects.filter(earner=user).select_related("buyer").order_by("-created_at", "-id")
    if kind in Commission.Kind.values:
        mine = mine.filter(kind=kind)
    if state in Commission.State.values:
        mine = mine.filter(state=state)
    if tier in ("1", "2", "3"):
        mine = mine.filter(tier=int(tier))
    return mine


def get_commission(user: User, commission_id: int) -> Commission:
    commission = Commission.objects.select_related("buyer", "order").filter(pk=commission_id).first()
    if commission is None or commission.earner_id != user.pk:
        raise Http404
    return commission


def ledger_of(user: User, *, kind: str = "") -> QuerySet[LedgerEntry]:
    entries = LedgerEntry.objects.filter(member=user).select_related("commission", "withdrawal")
    if kind in LedgerEntry.Kind.values:
        entries = entries.filter(kind=kind)
    return entries.order_by("-created_at", "-id")


def withdrawals_of(user: User) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(member=user).order_by("-created_at", "-id")


def get_withdrawal(user: User, number: str) -> Withdrawal:
    withdrawal = Withdrawal.objects.filter(number=number).first()
    if withdrawal is None or withdrawal.member_id != user.pk:
        raise Http404
    return withdrawal
