"""Member levels as orders are paid and refunded, wallets topped up and levels bought: one level change
per move, each with its audit row.

`record_paid` and `record_refunded` run in the transaction that confirms a payment or completes a
refund (orders.purposes), under the member's row lock, so however many payments of one member are
confirmed at once, the paid total counts each once and an upgrade happens once. A level only drops by
itself when MEMBER_LEVELS_DROP_ON_REFUND says so.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from djmoney.money import Money

from kamen import audit
from kamen.money import cny

from . import inbox
from .locks import lock_member
from .models import LevelChange, MemberLevel, Message, User


def _earned(user: User) -> MemberLevel | None:
    """The highest level that the member's paid orders or wallet top-ups reach."""
    by_orders = Q(upgrade_at__isnull=False, upgrade_at__lte=user.paid_total.amount)
    by_topups = Q(upgrade_at_topup__isnull=False, upgrade_at_topup__lte=user.topup_total.amount)
    return MemberLevel.objects.filter(by_orders | by_topups).order_by("-rank").first()


def _move_up_to_earned(user: User, *, reference: str) -> None:
    earned = _earned(user)
    if earned is not None and earned.rank > _rank(user.level):
        _move(user, earned, reason=LevelChange.Reason.UPGRADE, reference=reference)


def _rank(level: MemberLevel | None) -> int:
    return level.rank if level is not None else -1


def _move(
    user: User,
    level: MemberLevel | None,
    *,
    reason: str,
    reference: str = "",
    actor: User | None = None,
    note: str = "",
) -> None:
    from_level = user.level
    LevelChange.objects.create(
        user=user,
        from_level=from_level,
        to_level=level,
        reason=reason,
        paid_total=user.paid_total,
        reference=reference,
        actor=actor,
        note=note,
    )
    user.level = level
    user.save(update_fields=["level"])
    if actor is not None:
        audit.record(
            audit.Kind.LEVEL_CHANGE,
            actor=actor,
            target=user,
            before={"level": from_level},
            after={"level": level},
            note=note,
        )
    moved = level is not None and level.pk != (from_level.pk if from_level else None)
    if moved and reason in (LevelChange.Reason.UPGRADE, LevelChange.Reason.BOUGHT):
        _welcome(user, level, reference=reference)


def _welcome(user: User, level: MemberLevel, *, reference: str) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        perks = (
            level.discount_label if level.has_discount else gettext("prices of your level on the goods that have them")
        )
        if level.staff_priority:
            perks += gettext("; your orders come first with our staff")
    inbox.notify(
        user,
        email=user.email,
        kind=Message.Kind.LEVEL,
        key=f"level:{level.pk}:{reference}",
        link=reverse("orders:levels"),
        level=level.name,
        perks=perks,
    )


def record_paid(user_id: int, amount: Money, *, reference: str) -> User:
    """Add a paid order to the member's total; move them up if it reaches a higher level."""
    user = lock_member(user_id)
    user.paid_total = cny(user.paid_total.amount + amount.amount)
    user.save(update_fields=["paid_total"])
    _move_up_to_earned(user, reference=reference)
    return user


def record_topup(user_id: int, amount: Money, *, reference: str) -> User:
    """Add a confirmed wallet top-up to the member's total; move them up if it reaches a higher level."""
    user = lock_member(user_id)
    user.topup_total = cny(user.topup_total.amount + amount.amount)
    user.save(update_fields=["topup_total"])
    _move_up_to_earned(user, reference=reference)
    return user


def grant_bought_level(user_id: int, level: MemberLevel, *, reference: str) -> bool:
    """The member paid for `level` outright: they are moved to it, once per `reference`. A member who
    meanwhile reached a higher level keeps it (the change log says so); False when nothing moved."""
    user = lock_member(user_id)
    if LevelChange.objects.filter(user=user, reason=LevelChange.Reason.BOUGHT, reference=reference).exists():
        return False
    if level.rank <= _rank(user.level):
        note = f"购买时已是{user.level}"
        _move(user, user.level, reason=LevelChange.Reason.BOUGHT, reference=reference, note=note)
        return False
    _move(user, level, reason=LevelChange.Reason.BOUGHT, reference=reference)
    return True


def record_refunded(user_id: int, amount: Money, *, reference: str) -> User:
    """Take a refund off the member's total (never below zero); the level stays unless the setting
    MEMBER_LEVELS_DROP_ON_REFUND moves it down to what the total still earns."""
    user = lock_member(user_id)
    user.paid_total = cny(max(user.paid_total.amount - amount.amount, 0))
    user.save(update_fields=["paid_total"])
    if settings.MEMBER_LEVELS_DROP_ON_REFUND and user.level is not None and user.level.upgrade_at is not None:
        earned = _earned(user)
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
