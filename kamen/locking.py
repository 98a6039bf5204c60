"""Row locks: the one way any part of the shop takes them.

Every lock is taken inside an open transaction (a lock outside one would be released at once and
protect nothing), on the named rows only (`of=("self",)`, never a joined row), and several rows in
primary-key order, so two transactions that lock the same rows always queue instead of deadlocking.
Each app names its locks in its own `locks.py` (`lock_order`, `lock_payment`, `lock_wallet`, ...)
on top of these helpers; nothing else calls `select_for_update`.
"""

import hashlib
from typing import TypeVar

from django.db import connections, router
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


class LockOutsideTransaction(RuntimeError):
    """A row lock or a state change was asked for with no transaction open."""


def require_transaction(model: type[Model]) -> None:
    """Raise unless a transaction is open on the database that holds `model`'s rows."""
    alias = router.db_for_write(model)
    if not connections[alias].in_atomic_block:
        raise LockOutsideTransaction(f"{model._meta.label}: locks and state changes need transaction.atomic()")


def lock_one(queryset: QuerySet[M], **lookup) -> M:
    """Lock and return the one row of `queryset` matching `lookup`; raises DoesNotExist like `get`."""
    require_transaction(queryset.model)
    return queryset.select_for_update(of=("self",)).get(**lookup)


def lock_first(queryset: QuerySet[M]) -> M | None:
    """Lock and return the first row of an ordered `queryset`, or None."""
    require_transaction(queryset.model)
    return queryset.select_for_update(of=("self",)).first()


def lock_all(queryset: QuerySet[M]) -> list[M]:
    """Lock every row of `queryset`, in primary-key order, and return them in that order."""
    require_transaction(queryset.model)
    return list(queryset.select_for_update(of=("self",)).order_by("pk"))


def lock_free(queryset: QuerySet[M], *, limit: int) -> list[M]:
    """Lock up to `limit` rows of `queryset` that no one else holds (SKIP LOCKED), in primary-key order.

    For work queues: concurrent callers (two beat runs, a payment being confirmed) take or leave
    different rows instead of waiting for each other.
    """
    require_transaction(queryset.model)
    return list(queryset.select_for_update(skip_locked=True, of=("self",)).order_by("pk")[:limit])


def lock_free_pks(queryset: QuerySet, *, limit: int) -> list[int]:
    """Like `lock_free`, returning only the rows' keys (for stock: ids are all a reservation needs)."""
    require_transaction(queryset.model)
    locked = queryset.select_for_update(skip_locked=True, of=("self",)).order_by("pk")
    return list(locked.values_list("pk", flat=True)[:limit])


def lock_names(names: list[str], *, using: str = "default") -> None:
    """Hold a lock on each of `names` until the transaction ends: for something that has no row of its
    own to lock (a buyer's daily count of one SKU), so a check and the write it allows are one step.

    PostgreSQL transaction-level advisory locks, taken in sorted order so two callers that share
    names queue instead of deadlocking. SQLite (the embedded run) has one writer at a time already.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise LockOutsideTransaction("named locks need transaction.atomic()")
    if connection.vendor != "postgresql":
        return
    keys = sorted({_lock_key(name) for name in names})
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _lock_key(name: str) -> int:
    # A signed 64-bit number, as pg_advisory_xact_lock takes; a collision only makes two names queue.
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
