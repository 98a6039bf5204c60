"""Product page views per shop day: one cache counter a day, read into the daily summary.

A counter in the cache, not a row per view: a view costs one INCR, and the product page stays as fast
as its cached copy. The counters live three days, long enough for the nightly summary to read
yesterday's; while the cache is down the count goes on in each process's memory (kamen/cache.py), so
an outage makes the day's figure short, never a page fail.
"""

import datetime
import logging

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger("kamen")

KEEP_SECONDS = 3 * 24 * 3600


def _key(day: datetime.date) -> str:
    return f"product-views:{day.isoformat()}"


def count_product_view() -> None:
    key = _key(timezone.localdate())
    try:
        cache.incr(key)
    except ValueError:  # the day's first view
        if not cache.add(key, 1, KEEP_SECONDS):
            cache.incr(key)
    except Exception:  # a lost view must never cost the shopper the page
        logger.warning("product view not counted", exc_info=True)


def views_on(day: datetime.date) -> int:
    return int(cache.get(_key(day)) or 0)
