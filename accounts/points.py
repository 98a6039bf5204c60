"""Points (积分): earned on delivered orders and by the daily check-in, taken back in proportion by
refunds, spent in the points mall. A balance changes only under its account's row lock, together with
its ledger entry; an entry's reference makes a repeated write (a task run twice) a no-op; the balance
never goes below zero (a database constraint backs it)."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from kamen import shop_settings

from .locks import lock_points
from .models import MemberLevel, PointsAccount, PointsEntry, User


class PointsRefused(Exception):
    """Points cannot be spent or collected now; the message says why. Nothing was written."""


@dataclass(frozen=True)
class PointsChange:
    account: PointsAccount
    entry: PointsEntry | None  # None when nothing moved (a zero award, a repeated reference)


def get_or_create_account(user: User) -> PointsAccount:
    account, _ = PointsAccount.objects.get_or_create(user=user)
    return account


def _post(user: User, points: int, *, kind: str, reference: str, note: str = "") -> PointsChange:
    get_or_create_account(user)
    with transaction.atomic():
        account = lock_points(user)
        if PointsEntry.objects.filter(account=account, kind=kind, reference=reference).exists():
            return PointsChange(account=account, entry=None)
        if points == 0:
            return PointsChange(account=account, entry=None)
        if account.balance + points < 0:
            raise PointsRefused(_("You have %(points)s points, not enough.") % {"points": account.balance})
        account.balance += points
        account.save(update_fields=["balance", "updated_at"])
        entry = PointsEntry.objects.create(
            account=account, kind=kind, points=points, balance_after=account.balance, reference=reference, note=note
        )
    return PointsChange(account=account, entry=entry)


def points_for(paid: Money, level: MemberLevel | None) -> int:
    """What an order paid `paid` earns: POINTS_PER_YUAN per whole yuan, times the level's multiplier."""
    multiplier = level.points_multiplier if level is not None else Decimal(1)
    return int((paid.amount * settings.POINTS_PER_YUAN * multiplier).quantize(Decimal(1), rounding=ROUND_DOWN))


def award_for_order(user: User, paid: Money, *, reference: str, note: str = "") -> PointsChange:
    """The member's order `reference` was delivered: its points, once."""
    return _post(user, points_for(paid, user.level), kind=PointsEntry.Kind.EARNED, reference=reference, note=note)


def reverse_for_refund(user: User, *, order_reference: str, share: Decimal, refund_reference: str) -> PointsChange:
    """A refund of `share` (0–1) of order `order_reference` takes back that share of the points it
    earned, rounded half up, once per refund; never more than the order earned in all, nor more than
    the member still has, so a balance spent meanwhile stays at zero."""
    earned = PointsEntry.objects.filter(
        account__user=user, kind=PointsEntry.Kind.EARNED, reference=order_reference
    ).first()
    if earned is None:
        return PointsChange(account=get_or_create_account(user), entry=None)
    with transaction.atomic():
        account = lock_points(user)
        reversals = PointsEntry.objects.filter(
            account=account, kind=PointsEntry.Kind.REVERSED, reference__startswith=f"{order_reference}/"
        )
        already = -sum(reversals.values_list("points", flat=True))
        taken = int((Decimal(earned.points) * share).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        taken = min(taken, earned.points - already, account.balance)
        reference = f"{order_reference}/{refund_reference}"[:64]
        return _post(user, -taken, kind=PointsEntry.Kind.REVERSED, reference=reference)


def check_in_points(streak: int) -> int:
    """Points for a check-in on day `streak` of a run: the base, plus a step for each day before, capped."""
    bonus = min(streak - 1, settings.POINTS_CHECK_IN_STREAK_DAYS) * settings.POINTS_CHECK_IN_STREAK_STEP
    return settings.POINTS_CHECK_IN + bonus


def check_in(user: User, *, today: date | None = None) -> PointsChange:
    """签到: once a day (Asia/Shanghai), with a bonus for each day in a row."""
    if not shop_settings.current().daily_check_in:
        raise PointsRefused(_("Daily check-in is closed for now."))
    today = today or timezone.localdate()
    get_or_create_account(user)
    with transaction.atomic():
        account = lock_points(user)
        if account.last_check_in == today:
            raise PointsRefused(_("You have checked in today already. Come back tomorrow!"))
        account.streak = account.streak + 1 if account.last_check_in == today - timedelta(days=1) else 1
        account.last_check_in = today
        account.save(update_fields=["streak", "last_check_in", "updated_at"])
        return _post(
            user, check_in_points(account.streak), kind=PointsEntry.Kind.CHECK_IN, reference=f"check-in:{today}"
        )


def spend_points(user: User, points: int, *, reference: str, note: str) -> PointsChange:
    """Take `points` for a points-mall reward; PointsRefused when the member has fewer."""
    if points <= 0:
        raise ValueError("points to spend must be positive")
    return _post(user, -points, kind=PointsEntry.Kind.REDEEMED, reference=reference, note=note)


def give_points(user: User, points: int, *, reference: str, note: str = "") -> PointsChange:
    """Points given by staff or the shop (a goodwill gesture, the demo's start): once per `reference`."""
    if points <= 0:
        raise ValueError("points given must be positive")
    return _post(user, points, kind=PointsEntry.Kind.STAFF, reference=reference, note=note)
