"""Cached catalog fragments that never show stale stock.

List pages cache their rendered product grid under a key that includes a catalog generation. Every
change to available stock, and every staff edit of what list pages show, bumps the generation, so the
next list page is rendered from the database again. FRAGMENT_SECONDS bounds anything else.

While Redis is unreachable fragments are rendered from the database every time: a process-local
generation would not see the stock changes made by other processes. A bump that could not reach
Redis is made up for as soon as it is back.
"""

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import get_language

from kamen.cache import shared_cache_available

GENERATION_KEY = "catalog:stock-generation"
FRAGMENT_SECONDS = 30

T = TypeVar("T")

# A stock change this process made while Redis was away, still to be announced to the others.
_bump_owed = False


def catalog_changed() -> None:
    """Call after changing stock or products: bumps now, and again on commit, so no reader caches old data.

    The bump after commit never raises: the change is committed and must not become an error page.
    """
    _bump()
    transaction.on_commit(_bump, robust=True)


def _bump() -> None:
    global _bump_owed
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not in the cache yet (or evicted): any new value starts a new generation
        cache.set(GENERATION_KEY, 1, None)
    _bump_owed = not shared_cache_available()


def fragment_key(*parts: object) -> str:
    generation = cache.get_or_set(GENERATION_KEY, 1, None)
    return ":".join(["catalog", str(generation), get_language() or "", *map(str, parts)])


def cached_fragment(parts: tuple[object, ...], render: Callable[[], T]) -> T:
    """What `render` returns, cached for this catalog generation; rendered afresh while Redis is away."""
    if not shared_cache_available():
        return render()
    if _bump_owed:
        _bump()
    key = fragment_key(*parts)
    value = cache.get(key)
    if value is None:
        value = render()
        cache.set(key, value, FRAGMENT_SECONDS)
    return value
