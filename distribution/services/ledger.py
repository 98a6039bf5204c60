"""The commission ledger: the one place that writes its entries.

A member's balances are sums of their entries (`distribution.selectors.balances_of`), so writing an
entry is all a move of money takes. What keeps each sum right is the lock on what the entry answers:
a commission is earned, settled and taken back under its own row lock, a withdrawal held under the
member's referrer row and paid or returned under the withdrawal's.
"""

from djmoney.money import Money

from accounts.models import User
from kamen.locking import require_transaction

from ..models import Commission, LedgerEntry, Withdrawal


def post(
    member_id: int,
    kind: str,
    amount: Money,
    *,
    reference: str,
    commission: Commission | None = None,
    withdrawal: Withdrawal | None = None,
    actor: User | None = None,
    note: str = "",
) -> LedgerEntry:
    """Append one entry to a member's ledger; the unique (member, kind, reference) makes it once."""
    require_transaction(LedgerEntry)
    return LedgerEntry.objects.create(
        member_id=member_id,
        kind=kind,
        amount=amount,
        commission=commission,
        withdrawal=withdrawal,
        reference=reference,
        actor=actor,
        note=note[:200],
    )


def post_many(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """`post` for many entries at once (accrual, settlement), in one insert."""
    require_transaction(LedgerEntry)
    return LedgerEntry.objects.bulk_create(entries)
