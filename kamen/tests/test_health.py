"""/health/ tells a monitor whether the database, the cache, the broker, a worker and beat are alive.

The worker and beat are real Celery processes started as the deployment starts them, against a
private redis-server; the test kills them (and Redis) and watches the answer change.
"""

import os
import signal
from datetime import timedelta

import pytest
from django.urls import reverse

from kamen import cache as kamen_cache
from kamen.settings import redis_cache
from kamen.testing.outage import RedisServer, Supervised, celery_broker, celery_command, wait_until


@pytest.fixture
def private_redis():
    server = RedisServer().start()
    yield server
    server.cleanup()


def health(client) -> tuple[int, dict]:
    response = client.get(reverse("health"))
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_the_embedded_shop_is_healthy(client, db):
    status, body = health(client)

    assert status == 200 and body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "worker", "beat"}
    assert body["checks"]["worker"] == {"ok": True, "mode": "embedded", "ms": body["checks"]["worker"]["ms"]}


def test_health_reports_dead_workers_beat_and_redis(client, db, settings, private_redis, tmp_path):
    # given the shop on a private Redis, heartbeats counted stale after 3 s, and no worker or beat yet
    settings.CACHES = redis_cache(private_redis.url)
    settings.HEALTH_WORKER_STALE = settings.HEALTH_BEAT_STALE = timedelta(seconds=3)
    kamen_cache._down_until.clear()
    env = {**os.environ, "REDIS_URL": private_redis.url, "HEALTH_HEARTBEAT_SECONDS": "1", "SWEEP_EVERY_SECONDS": "1"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'unused.sqlite3'}"  # the test's own database stays its own
    with celery_broker(private_redis.url):
        status, body = health(client)
        assert status == 503 and body["status"] == "failing"
        assert body["checks"]["worker"]["error"] == "no worker heartbeat"
        assert body["checks"]["beat"]["error"] == "no beat heartbeat"
        assert all(body["checks"][name]["ok"] for name in ("database", "cache", "broker"))

        # when a worker and beat run, the shop is healthy
        worker = Supervised(celery_command("worker", concurrency=1), env=env, log=tmp_path / "worker.log")
        beat = Supervised(celery_command("beat", state=tmp_path), env=env, log=tmp_path / "beat.log")
        processes = [worker.start(), beat.start()]
        try:
            assert wait_until(lambda: health(client)[0] == 200, timeout=30), health(client)
            assert health(client)[1]["checks"]["worker"]["alive"] == 1

            # then a worker killed outright is reported within seconds, and so is beat
            worker._stopping.set()  # no supervisor to bring it back here
            beat._stopping.set()
            os.killpg(worker.process.pid, signal.SIGKILL)
            os.killpg(beat.process.pid, signal.SIGKILL)
            assert wait_until(lambda: not health(client)[1]["checks"]["worker"]["ok"], timeout=10)
            assert wait_until(lambda: not health(client)[1]["checks"]["beat"]["ok"], timeout=10)
            assert health(client)[1]["checks"]["worker"]["error"] == "worker heartbeat too old"
        finally:
            for process in processes:
                process.stop()

        # and Redis gone is the cache and the broker down, the heartbeats unknown
        private_redis.kill()
        status, body = health(client)
    assert status == 503
    assert [name for name, check in body["checks"].items() if not check["ok"]] == ["cache", "broker", "worker", "beat"]
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["worker"]["error"].startswith("unknown")
