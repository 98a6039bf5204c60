"""Fixtures of distribution tests: members bound into an invitation chain, and the ledger's own sums."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from distribution import services
from distribution.models import BALANCE_MOVES, BALANCES, LedgerEntry, Referrer
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
    """A member's cached balances."""
    account = Referrer.objects.get(user=user)
    return {name: getattr(account, name).amount for name in BALANCES}


def ledger_sums(user) -> dict[str, Decimal]:
    """A member's balances summed from their ledger entries, as BALANCE_MOVES says each kind moves."""
    sums = dict.fromkeys(BALANCES, Decimal("0.00"))
    per_kind = (
        LedgerEntry.objects.filter(account__user=user, amount_currency="CNY").values("kind").annotate(s=Sum("amount"))
    )
    for row in per_kind:
        source, target = BALANCE_MOVES[row["kind"]]
        if source:
            sums[source] -= row["s"]
        if target:
            sums[target] += row["s"]
    return sums
