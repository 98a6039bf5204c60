"""Fixtures of distribution tests: members bound into an invitation chain, and the ledger's own sums."""

from dataclasses import asdict
from decimal import Decimal

import pytest

from distribution import services
from distribution.models import BALANCE_MOVES, BALANCES, LedgerEntry
from distribution.selectors import balances_of
from kamen.testing import factories


@pytest.fixture
def chain(db):
    """`chain(n)`: n members, each invited by the one before: [top, …, newest]."""

    def make(n: int, *, prefix: str = "m"):
        members = [factories.UserFactory(email=f"{prefix}{i}@example.com") for i in range(1, n + 1)]
        services.referrer_for(members[0])
        for inviter, member in zip(members, members[1:], strict=False):
            services.bind_inviter(member, services.referrer_for(inviter).code)
        return members

    return make


def balances(user) -> dict[str, Decimal]:
    """A member's balances as the shop reads them (one aggregate query)."""
    return asdict(balances_of(user))


def ledger_sums(user) -> dict[str, Decimal]:
    """A member's balances added up here, entry by entry, as BALANCE_MOVES says each kind moves."""
    sums = dict.fromkeys(BALANCES, Decimal("0.00"))
    for entry in LedgerEntry.objects.filter(member=user):
        source, target = BALANCE_MOVES[entry.kind]
        if source:
            sums[source] -= entry.amount.amount
        if target:
            sums[target] += entry.amount.amount
    return sums
