"""Row locks of distribution (see kamen.locking for the rules every lock keeps).

One transaction locks in this order: order (confirming or refunding it), commissions, referrers
(several in primary-key order, once), withdrawal.
"""

from collections.abc import Iterable

from kamen.locking import lock_all, lock_free, lock_one

from .models import Commission, Referrer, Withdrawal


def lock_referrers(user_ids: Iterable[int]) -> dict[int, Referrer]:
    """The referrer rows of `user_ids`, locked in primary-key order: the balances of several earners."""
    locked = lock_all(Referrer.objects.filter(user_id__in=set(user_ids)))
    return {referrer.user_id: referrer for referrer in locked}


def lock_referrer(user_id: int) -> Referrer:
    return lock_one(Referrer.objects.all(), user_id=user_id)


def lock_commissions_of_order(order_id: int) -> list[Commission]:
    return lock_all(Commission.objects.filter(order_id=order_id))


def lock_commission(commission_id: int) -> Commission:
    return lock_one(Commission.objects.select_related("order"), pk=commission_id)


def lock_commissions_due(queryset, *, limit: int) -> list[Commission]:
    """Commissions ready to settle that nothing else holds right now (SKIP LOCKED): a refund being
    recorded keeps its order's commissions, and two settlement runs take different rows."""
    return lock_free(queryset, limit=limit)


def lock_withdrawal(withdrawal_id: int) -> Withdrawal:
    return lock_one(Withdrawal.objects.all(), pk=withdrawal_id)
