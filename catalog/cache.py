"""Cached catalog fragments that never show stale stock.

List pages cache their rendered product grid under a key that includes a catalog generation. Every
change to available stock, and every staff edit of what list pages show, bumps the generation, so the
next list page is rendered from the database again. FRAGMENT_SECONDS bounds anything else.
"""

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import get_language

GENERATION_KEY = "catalog:stock-generation"
FRAGMENT_SECONDS = 30


def catalog_changed() -> None:
    """Call after changing stock or products: bumps now, and again on commit, so no reader caches old data."""
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not in the cache yet (or evicted): any new value starts a new generation
        cache.set(GENERATION_KEY, 1, None)


def fragment_key(*parts: object) -> str:
    generation = cache.get_or_set(GENERATION_KEY, 1, None)
    return ":".join(["catalog", str(generation), get_language() or "", *map(str, parts)])
