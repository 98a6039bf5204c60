"""Cached catalog pages that never show stale stock.

Two counters in the shared cache say when a cached page is out of date:

- the catalog generation, bumped by every staff edit of what pages show (products, prices, categories,
  moderation): every cached page and fragment holds it in its key;
- a stock version per product, bumped whenever the product's free codes change (a checkout holds
  codes, an expiry gives them back, an import adds some, staff void some): stock counts are cached
  under it (`free_codes`, `product_stock`), so a count read from the cache is never an old one.

Pages show stock through slots in their cached markup that `catalog.live_stock` fills with those
counts as each page is served, so a sale never throws list pages away, and a product page only when
one of its specs sells out or comes back.

While Redis is unreachable nothing is cached: a process-local counter would not see the changes made
by other processes. A bump that could not reach Redis is made up for, as a new generation, as soon as
it is back. FRAGMENT_SECONDS bounds anything else. Each process keeps a copy of the entries it read
lately (kamen.cache.LocalCopies): their keys hold what they belong to, so a copy is never stale.
"""

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.utils.translation import get_language

from kamen.cache import LocalCopies, shared_cache_available

GENERATION_KEY = "catalog:stock-generation"
STOCK_VERSION_KEY = "catalog:stock:{}"
FRAGMENT_SECONDS = 30

T = TypeVar("T")

# Counts and fragments this process read lately, kept beside Redis: their keys hold the generation
# and stock versions they belong to.
_copies = LocalCopies(size=20000, seconds=FRAGMENT_SECONDS)

# A change this process made while Redis was away, still to be announced to the others.
_bump_owed = False


def catalog_changed() -> None:
    """Call after a staff edit of what pages show: bumps now, and again on commit, so no reader caches old data.

    The bump after commit never raises: the change is committed and must not become an error page.
    With a read replica (kamen/db_router.py) one more bump follows once the replica has caught up.
    """
    _bump()
    transaction.on_commit(_bump, robust=True)
    if "replica" in connections.databases:
        transaction.on_commit(_bump_after_replica_lag, robust=True)


def new_generation() -> None:
    _bump()


def _bump_after_replica_lag() -> None:
    from .tasks import start_catalog_generation_task

    start_catalog_generation_task.apply_async(countdown=settings.REPLICA_LAG_SECONDS)


def stock_changed(product_ids: Iterable[int]) -> None:
    """Call after changing the free codes of these products; bumps their stock versions now and on commit."""
    keys = [STOCK_VERSION_KEY.format(pk) for pk in set(product_ids)]
    if keys:
        _bump_stock(keys)
        transaction.on_commit(lambda: _bump_stock(keys), robust=True)


def _bump() -> None:
    global _bump_owed
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not in the cache yet, or evicted
        cache.set(GENERATION_KEY, _fresh(), None)
    _bump_owed = not shared_cache_available()


def _bump_stock(keys: list[str]) -> None:
    global _bump_owed
    for key in keys:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, _fresh(), None)
    if not shared_cache_available():
        _bump_owed = True


def _fresh() -> int:
    """A starting value no earlier counter held: a counter evicted and started again must not match
    pages cached under its old values."""
    return time.time_ns()


def generation() -> int:
    if _bump_owed and shared_cache_available():
        _bump()
    return cache.get_or_set(GENERATION_KEY, _fresh, None)


def counters(product_ids: Iterable[int]) -> tuple[int, dict[int, int]]:
    """The catalog generation and each product's stock version, in one round trip (more only for
    counters never read yet, or when a bump is owed)."""
    keys = {pk: STOCK_VERSION_KEY.format(pk) for pk in set(product_ids)}
    found = {} if _bump_owed else cache.get_many([GENERATION_KEY, *keys.values()])
    current = found.pop(GENERATION_KEY, None) or generation()
    for key in set(keys.values()) - set(found):
        cache.add(key, _fresh(), None)
        found[key] = cache.get(key)
    return current, {pk: found[key] for pk, key in keys.items() if found.get(key) is not None}


def free_codes(product_ids: Iterable[int], count: Callable[[list[int]], dict[int, int]]) -> dict[int, int]:
    """Free codes per product, cached under each product's stock version; `count` reads the database
    for the products whose count is not cached at their current version."""
    product_ids = list(set(product_ids))
    if not shared_cache_available():
        return count(product_ids)
    # The generation too: versions bumped while Redis was away are made up for by a new generation.
    current, versions = counters(product_ids)
    keys = {pk: f"catalog:free:{current}:{pk}:{version}" for pk, version in versions.items()}
    cached = _copies.get_many(list(keys.values()))
    counts = {pk: cached[key] for pk, key in keys.items() if key in cached}
    missing = [pk for pk in product_ids if pk not in counts]
    if missing:
        fresh = count(missing)
        counts.update({pk: fresh.get(pk, 0) for pk in missing})
        _copies.set_many({keys[pk]: counts[pk] for pk in missing if pk in keys}, FRAGMENT_SECONDS)
    return {pk: n for pk, n in counts.items() if n}


def product_stock(product_id: int, read: Callable[[int], T]) -> tuple[int, T]:
    """The catalog generation, and what `read` says of one product's stock, cached under that generation
    and the product's stock version: exact, and read from the database once per change of its codes.

    A product page served from the cache asks Redis once, for the two counters.
    """
    if not shared_cache_available():
        return generation(), read(product_id)
    current, versions = counters([product_id])
    key = f"catalog:product-stock:{current}:{product_id}:{versions.get(product_id)}"
    value = _copies.get(key)
    if value is None:
        value = read(product_id)
        _copies.set(key, value, FRAGMENT_SECONDS)
    return current, value


def fragment_key(*parts: object) -> str:
    return ":".join(["catalog", str(generation()), get_language() or "", *map(str, parts)])


def cached_fragment(parts: tuple[object, ...], render: Callable[[], T]) -> T:
    """What `render` returns, cached for this catalog generation; rendered afresh while Redis is away."""
    return cached_under(fragment_key(*parts), render)


def cached_under(key: str, render: Callable[[], T]) -> T:
    """What `render` returns, cached under `key`, a `fragment_key` the caller read already."""
    if not shared_cache_available():
        return render()
    value = _copies.get(key)
    if value is None:
        value = render()
        _copies.set(key, value, FRAGMENT_SECONDS)
    return value
