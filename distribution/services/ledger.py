"""The commission ledger: the one place that writes entries and moves a member's balances with them."""

from djmoney.money import Money

from accounts.models import User
from kamen.locking import require_transaction

from ..models import BALANCE_MOVES, Commission, LedgerEntry, Referrer, Withdrawal


def post(
    account: Referrer,
    kind: str,
    amount: Money,
    *,
    reference: str,
    commission: Commission | None = None,
    withdrawal: Withdrawal | None = None,
    actor: User | None = None,
    note: str = "",
) -> LedgerEntry:
    """Append one entry to a locked member's ledger and move its amount between their balances.

    The caller holds the row lock of `account` and of what the entry answers (the commission or the
    withdrawal) and has checked that it was not written before; the unique (account, kind, reference)
    stands behind that check.
    """
    require_transaction(Referrer)
    source, target = BALANCE_MOVES[kind]
    changed = []
    if source:
        setattr(account, source, getattr(account, source) - amount)
        changed.append(source)
    if target:
        setattr(account, target, getattr(account, target) + amount)
        changed.append(target)
    account.save(update_fields=changed)
    return LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        commission=commission,
        withdrawal=withdrawal,
        reference=reference,
        actor=actor,
        note=note[:200],
    )


def post_many(
    accounts: dict[int, Referrer],
    kind: str,
    moves: dict[int, list[tuple[Money, str, Commission | None]]],
    *,
    now,
) -> list[LedgerEntry]:
    """`post` for many entries of one kind at once (settlement): one insert for all entries and one
    update per member. `accounts` are locked; `moves` maps each member to (amount, reference, commission)."""
    require_transaction(Referrer)
    source, target = BALANCE_MOVES[kind]
    entries = []
    for user_id, items in moves.items():
        account = accounts[user_id]
        total = sum((amount for amount, _reference, _commission in items), Money(0, "CNY"))
        if source:
            setattr(account, source, getattr(account, source) - total)
        if target:
            setattr(account, target, getattr(account, target) + total)
        account.save(update_fields=[name for name in (source, target) if name])
        entries += [
            LedgerEntry(
                account=account, kind=kind, amount=amount, reference=reference, commission=commission, created_at=now
            )
            for amount, reference, commission in items
        ]
    return LedgerEntry.objects.bulk_create(entries)
