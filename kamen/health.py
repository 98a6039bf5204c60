"""/health/: is every part the shop needs alive — database, cache, broker, a worker, beat.

Meant for a load balancer, a supervisor or a monitor: 200 when every check passes, 503 when one
fails, and a JSON body that says which (documented in the README). Workers and beat prove they are
alive by heartbeats kept in the cache: a worker's consumer writes one every HEARTBEAT_SECONDS while
it is connected to the broker, beat writes one whenever it publishes a scheduled task.
"""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache, caches
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from .cache import OutageTolerantRedisCache

logger = logging.getLogger("kamen")

HEARTBEAT_SECONDS = settings.HEALTH_HEARTBEAT_SECONDS
WORKERS_KEY = "kamen:heartbeat:workers"  # {worker hostname: unix time of its last heartbeat}
BEAT_KEY = "kamen:heartbeat:beat"
FORGET_AFTER = 3600  # a worker silent this long is no longer listed at all


# ---------------------------------------------------------------------------------------------------
# Heartbeats (called in the worker and beat processes)
# ---------------------------------------------------------------------------------------------------
def record_worker_heartbeat(hostname: str) -> None:
    """A worker's consumer is running. Never raises: a heartbeat must not stop the worker."""
    try:
        now = time.time()
        workers = {name: at for name, at in (cache.get(WORKERS_KEY) or {}).items() if at > now - FORGET_AFTER}
        workers[hostname] = now
        cache.set(WORKERS_KEY, workers, FORGET_AFTER)
    except Exception:
        logger.exception("worker heartbeat not recorded")


def record_beat_heartbeat() -> None:
    """Beat has just published a scheduled task. Never raises."""
    try:
        cache.set(BEAT_KEY, time.time(), FORGET_AFTER)
    except Exception:
        logger.exception("beat heartbeat not recorded")


# ---------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------
def _timed(check: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as error:  # a check that cannot run has failed; the reason is in the answer
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"[:200]}
    return {**result, "ms": round((time.perf_counter() - started) * 1000, 1)}


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return {"ok": False, "error": str(error).strip()[:200]}
    return {"ok": True}


def check_cache() -> dict:
    backend = caches["default"]
    if isinstance(backend, OutageTolerantRedisCache):
        return {"ok": True} if backend.ping() else {"ok": False, "error": "Redis unreachable"}
    return {"ok": True, "mode": "local"}


def check_broker() -> dict:
    from .celery import app

    if app.conf.task_always_eager:
        return {"ok": True, "mode": "embedded"}
    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    return {"ok": True}


def _embedded() -> bool:
    from .celery import app

    return bool(app.conf.task_always_eager)


def check_worker() -> dict:
    if _embedded():
        return {"ok": True, "mode": "embedded"}
    if not _shared_cache_up():
        return {"ok": False, "error": "unknown: the cache holding heartbeats is unreachable"}
    now = time.time()
    ages = [now - at for at in (cache.get(WORKERS_KEY) or {}).values()]
    alive = [age for age in ages if age <= settings.HEALTH_WORKER_STALE.total_seconds()]
    result = {"ok": bool(alive), "alive": len(alive), "last_seen_seconds": round(min(ages), 1) if ages else None}
    if not alive:
        result["error"] = "no worker heartbeat" if not ages else "worker heartbeat too old"
    return result


def check_beat() -> dict:
    if _embedded():
        return {"ok": True, "mode": "embedded"}
    if not _shared_cache_up():
        return {"ok": False, "error": "unknown: the cache holding heartbeats is unreachable"}
    at = cache.get(BEAT_KEY)
    age = round(time.time() - at, 1) if at else None
    ok = age is not None and age <= settings.HEALTH_BEAT_STALE.total_seconds()
    result = {"ok": ok, "last_seen_seconds": age}
    if not ok:
        result["error"] = "no beat heartbeat" if age is None else "beat heartbeat too old"
    return result


def _shared_cache_up() -> bool:
    backend = caches["default"]
    return not isinstance(backend, OutageTolerantRedisCache) or backend.ping()


CHECKS = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "worker": check_worker,
    "beat": check_beat,
}


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """200 {"status": "ok", ...} when every part is alive, else 503 {"status": "failing", ...}."""
    checks = {name: _timed(check) for name, check in CHECKS.items()}
    ok = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ok else "failing", "checks": checks}, status=200 if ok else 503)
