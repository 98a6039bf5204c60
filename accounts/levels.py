"""Member levels as orders are paid and refunded: one level change per move, each with its audit row.

`record_paid` and `record_refunded` run in the transaction that confirms a payment or completes a
refund (orders.purposes), under the member's row lock, so however many payments of one member are
confirmed at once, the paid total counts each once and an upgrade happens once. A level only drops by
itself when MEMBER_LEVELS_DROP_ON_REFUND says so.
"""

from django.conf import settings
from django.db import transaction
from djmoney.money import Money

from kamen.money import cny

from .locks import lock_member
from .models import LevelChange, MemberLevel, User


def _earned(paid_total: Money) -> MemberLevel | None:
    """The highest level whose upgrade amount `paid_total` reaches."""
    return (
        MemberLevel.objects.filter(upgrade_at__isnull=False, upgrade_at__lte=paid_total.amount)
        .order_by("-rank")
        .first()
    )


def _move(
    user: User,
    level: MemberLevel | None,
    *,
    reason: str,
    reference: str = "",
    actor: User | None = None,
    note: str = "",
) -> None:
    LevelChange.objects.create(
        user=user,
        from_level=user.level,
        to_level=level,
        reason=reason,
        paid_total=user.paid_total,
        reference=reference,
        actor=actor,
        note=note,
    )
    user.level = level
    user.save(update_fields=["level"])


def record_paid(user_id: int, amount: Money, *, reference: str) -> User:
    """Add a paid order to the member's total; move them up if it reaches a higher level."""
    user = lock_member(user_id)
    user.paid_total = cny(user.paid_total.amount + amount.amount)
    user.save(update_fields=["paid_total"])
    earned = _earned(user.paid_total)
    current_rank = user.level.rank if user.level else -1
    if earned is not None and earned.rank > current_rank:
        _move(user, earned, reason=LevelChange.Reason.UPGRADE, reference=reference)
    return user


def record_refunded(user_id: int, amount: Money, *, reference: str) -> User:
    """Take a refund off the member's total (never below zero); the level stays unless the setting
    MEMBER_LEVELS_DROP_ON_REFUND moves it down to what the total still earns."""
    user = lock_member(user_id)
    user.paid_total = cny(max(user.paid_total.amount - amount.amount, 0))
    user.save(update_fields=["paid_total"])
    if settings.MEMBER_LEVELS_DROP_ON_REFUND and user.level is not None and user.level.upgrade_at is not None:
        earned = _earned(user.paid_total)
        if earned is None or earned.rank < user.level.rank:
            _move(user, earned, reason=LevelChange.Reason.DROP, reference=reference)
    return user


def set_level(user_id: int, level: MemberLevel | None, *, actor: User, note: str) -> bool:
    """Staff put a member at `level` (None: the lowest), saying why; False when they are there already."""
    with transaction.atomic():
        user = lock_member(user_id)
        if user.level_id == (level.pk if level else None):
            return False
        _move(user, level, reason=LevelChange.Reason.STAFF, actor=actor, note=note)
    return True
