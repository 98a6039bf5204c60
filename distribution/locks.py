"""Row locks of distribution (see kamen.locking for the rules every lock keeps).

Balances are sums of ledger entries, so no lock guards a balance as such: each entry is written under
the lock of what it answers. A commission's entries under its row (after the order's, when a payment
or refund locked that); a withdrawal's hold under the member's referrer row, which is what keeps two
withdrawals from both spending the same balance, and its payment or return under the withdrawal's row
(then the wallet's, for a withdrawal into the wallet). Binding an inviter locks both members' rows.
"""

from kamen.locking import lock_all, lock_free, lock_one

from .models import Commission, Referrer, Withdrawal


def lock_referrers(user_ids: list[int]) -> dict[int, Referrer]:
    """The referrer rows of `user_ids`, locked in primary-key order (binding locks both members')."""
    return {row.user_id: row for row in lock_all(Referrer.objects.filter(user_id__in=set(user_ids)))}


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
