"""A Redis cache that pages can live without.

Every page reads the cache (navigation, catalog fragments, rate limits), so a Redis outage must not
turn into 500s. `OutageTolerantRedisCache` answers from a process-local memory cache while Redis is
unreachable: reads miss or see what this process stored meanwhile, writes land locally, counters
count locally. After a failure Redis is left alone for RETRY_SECONDS, so a dead server costs one
refused connection per process every few seconds rather than one per cache call.

Rate limits therefore hold per process during an outage (see the settings' RATELIMIT comment), and
`shared_cache_available()` tells callers whose data must be the same in every process (catalog
fragments keyed by the stock generation) to skip caching until Redis is back.
"""

import logging
import threading
import time
from collections import OrderedDict
from typing import ClassVar

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("kamen")

RETRY_SECONDS = 2.0
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# Django makes one backend object per thread; whether Redis is down is a fact for the whole process.
_down_until: dict[str, float] = {}
_lock = threading.Lock()

OPERATIONS = (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "set_many",
    "delete_many",
    "clear",
)


class OneClientPerPool(RedisCacheClient):
    """Django's Redis cache client, building one redis.Redis per connection pool instead of one per
    cache call: building one fills a table of some 170 reply parsers, which cost a product page served
    from the cache a third of its time. A redis.Redis is safe to share, taking a connection from its
    pool for each command."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write: bool = False):
        pool = self._get_connection_pool(write)  # kept for the life of this client, so its id stays its own
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class OutageTolerantRedisCache(RedisCache):
    """Django's RedisCache, falling back to process memory while Redis cannot be reached."""

    def __init__(self, server: str, params: dict) -> None:
        super().__init__(server, params)
        self._class = OneClientPerPool
        self._where = server
        self.fallback = LocMemCache(
            f"kamen-fallback:{server}", {"TIMEOUT": params.get("TIMEOUT", 300), "OPTIONS": {"MAX_ENTRIES": 5000}}
        )

    @property
    def available(self) -> bool:
        """Whether Redis answered the last time it was asked (or the quiet period after a failure is over)."""
        return time.monotonic() >= _down_until.get(self._where, 0.0)

    def ping(self) -> bool:
        """Ask Redis itself, never the fallback: for the health check."""
        try:
            return bool(self._cache.get_client(write=True).ping())
        except UNREACHABLE:
            return False

    def _failed(self, error: BaseException) -> None:
        with _lock:
            first = self._where not in _down_until
            _down_until[self._where] = time.monotonic() + RETRY_SECONDS
        if first:
            logger.warning("cache unreachable (%s); serving from process memory until it is back", error)

    def _recovered(self) -> None:
        if self._where in _down_until:
            with _lock:
                if _down_until.pop(self._where, None) is not None:
                    logger.warning("cache reachable again")


def _tolerant(name: str):
    shared = getattr(RedisCache, name)

    def operation(self: OutageTolerantRedisCache, *args, **kwargs):
        if self.available:
            try:
                result = shared(self, *args, **kwargs)
            except UNREACHABLE as error:
                self._failed(error)
            else:
                self._recovered()
                return result
        return getattr(self.fallback, name)(*args, **kwargs)

    operation.__name__ = name
    operation.__doc__ = shared.__doc__
    return operation


for _name in OPERATIONS:
    setattr(OutageTolerantRedisCache, _name, _tolerant(_name))


def shared_cache_available() -> bool:
    """False while the default cache is a Redis that cannot be reached (its fallback is per process)."""
    backend = caches["default"]
    return not isinstance(backend, OutageTolerantRedisCache) or backend.available


class LocalCopies:
    """The shared cache, with a bounded copy in this process of the entries read or written through it.

    Only for keys that name what their entry holds (a catalog generation, a stock version): such an
    entry never changes under its key, so a copy is never stale, and reading it saves a round trip to
    Redis and the unpickling of the value. A copy lives at most `seconds` (what bounds anything the
    key does not name), and the least recently used go first beyond `size`.
    """

    _every: ClassVar[list["LocalCopies"]] = []

    def __init__(self, *, size: int, seconds: float) -> None:
        self._size = size
        self._seconds = seconds
        self._copies: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()
        LocalCopies._every.append(self)

    @classmethod
    def forget_everywhere(cls) -> None:
        """Drop every copy in this process: for tests, which give each test an empty cache."""
        for copies in cls._every:
            with copies._lock:
                copies._copies.clear()

    def get(self, key: str):
        return self.get_many([key]).get(key)

    def get_many(self, keys: list[str]) -> dict:
        now = time.monotonic()
        found = {}
        with self._lock:
            for key in keys:
                copy = self._copies.get(key)
                if copy is not None and copy[0] > now:
                    found[key] = copy[1]
                    self._copies.move_to_end(key)
        missing = [key for key in keys if key not in found]
        if missing:
            shared = caches["default"].get_many(missing)
            self._keep(shared)
            found.update(shared)
        return found

    def set(self, key: str, value, timeout: float) -> None:
        self.set_many({key: value}, timeout)

    def set_many(self, entries: dict, timeout: float) -> None:
        caches["default"].set_many(entries, timeout)
        self._keep(entries)

    def _keep(self, entries: dict) -> None:
        until = time.monotonic() + self._seconds
        with self._lock:
            for key, value in entries.items():
                self._copies[key] = (until, value)
                self._copies.move_to_end(key)
            while len(self._copies) > self._size:
                self._copies.popitem(last=False)
