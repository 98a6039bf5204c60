"""Outages of the database and of the broker cost time, never a paid order (promise 8).

A real Celery worker runs as its own process, started as the deployment starts it, with its
database connection through a loopback proxy in front of PostgreSQL that the test cuts, and a
private redis-server (the deployment's persistence settings) as broker and cache that the test
kills. The shop under test (services, test client, live server) talks to PostgreSQL directly.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.factories import order_of
from kamen.testing.outage import (
    RedisServer,
    Supervised,
    TcpProxy,
    celery_broker,
    celery_command,
    mailed_to,
    wait_until,
)
from orders import services
from orders.models import Order
from payments.models import Payment

pytestmark = [pytest.mark.postgres]

OUTAGE = 3  # seconds of a broker outage: the worker loses its connection and has to win it back


@dataclass
class Stack:
    redis: RedisServer
    database: TcpProxy
    folder: Path
    worker: Supervised | None = None

    @property
    def mail(self) -> list[str]:
        return mailed_to(self.folder / "mail")

    @property
    def worker_log(self) -> str:
        return (self.folder / "worker.log").read_text()

    def start_worker(self) -> Supervised:
        settings = connection.settings_dict
        database_url = (
            f"postgres://{settings['USER']}:{settings['PASSWORD']}@127.0.0.1:{self.database.port}/{settings['NAME']}"
        )
        env = {
            **_environ(),
            "DATABASE_URL": database_url,
            "REDIS_URL": self.redis.url,
            "CONN_MAX_AGE": "0",
            "DATABASE_CONNECT_TIMEOUT": "2",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.folder / "mail"),
            "TASK_RETRY_BACKOFF_SECONDS": "1",
            "TASK_RETRY_BACKOFF_MAX_SECONDS": "2",
        }
        log = self.folder / "worker.log"
        command = celery_command("worker", concurrency=1)
        self.worker = Supervised(command, env=env, log=log, restart_delay=0.5).start()
        ready = log.read_text().count(" ready.") if log.exists() else 0
        assert wait_until(lambda: log.read_text().count(" ready.") > ready, timeout=30), log.read_text()[-2000:]
        return self.worker

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.database.stop()
        self.redis.cleanup()


def _environ() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}


@pytest.fixture
def stack(transactional_db, tmp_path):
    settings = connection.settings_dict
    database = TcpProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))).start()
    stack = Stack(redis=RedisServer().start(), database=database, folder=tmp_path)
    try:
        with celery_broker(stack.redis.url):
            yield stack
    finally:
        stack.stop()


@pytest.fixture
def running(stack):
    stack.start_worker()
    return stack


def bought(sku, email: str) -> Order:
    placed = factories.place_order(sku, quantity=1, email=email)
    factories.confirm(placed.payment)
    return placed.order


def status_of(order: Order) -> str:
    return Order.objects.get(pk=order.pk).status


def retried(stack: Stack, task: str, times: int = 2):
    """A wait condition: the worker has run `task` and retried it `times` times (it keeps retrying)."""
    return lambda: task in stack.worker_log and stack.worker_log.count("Retry in") >= times


def test_a_payment_confirmed_during_a_database_outage_is_delivered_and_mailed_once(running):
    # given the worker's database goes away
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 2)
    running.database.cut()

    # when a payment is confirmed meanwhile (its delivery task reaches the worker at once)
    order = bought(sku, "outage@example.com")
    assert wait_until(retried(running, "deliver_order_task"), timeout=10)
    assert status_of(order) == Order.Status.PAID

    # then, once the database is back, the retries deliver it, with one e-mail
    running.database.restore()
    assert wait_until(lambda: status_of(order) == Order.Status.DELIVERED and running.mail, timeout=30)
    time.sleep(1)
    assert running.mail == ["outage@example.com"]
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 1


def test_the_delivery_email_waits_out_a_database_outage(running):
    # given a paid order, and the worker's database gone when its e-mail task runs
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 1)
    order = factories.place_order(sku, quantity=1, email="mail@example.com").order
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID, paid_at=timezone.now())
    running.database.cut()

    # when the order is delivered (here, by the shop itself), which sends the e-mail task
    services.deliver_order(order.pk)
    assert wait_until(retried(running, "send_delivery_email_task"), timeout=10)
    running.database.restore()

    # then the buyer gets exactly one e-mail
    assert wait_until(lambda: running.mail, timeout=30)
    time.sleep(1)
    assert running.mail == ["mail@example.com"]
    assert Order.objects.get(pk=order.pk).events.filter(type="email_sent").count() == 1


def test_a_sandbox_payment_made_during_a_database_outage_is_confirmed_and_delivered(
    running, client, live_server, settings
):
    # given the sandbox gateway's notification comes from the worker, whose database is gone
    settings.SANDBOX_NOTIFY_URL = live_server.url + reverse("payments:notify", args=["sandbox"])
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 1)
    data = {"sku": sku.pk, "quantity": 1, "contact_email": "sbx@example.com", "lookup_password": "pw-12345"}
    assert client.post(reverse("orders:place"), {**data, "payment_method": "sandbox"}).status_code == 302
    payment = Payment.objects.get()
    running.database.cut()

    # when the shopper pays at the cashier
    response = client.post(reverse("payments:sandbox_pay", args=[payment.trade_no]))
    assert response.status_code == 302
    assert wait_until(retried(running, "send_sandbox_notification_task"), timeout=10)
    running.database.restore()

    # then the notification gets through once the database is back: confirmed, delivered, mailed once
    assert wait_until(lambda: status_of(order_of(payment)) == Order.Status.DELIVERED and running.mail, timeout=30)
    payment.refresh_from_db()
    assert payment.state == Payment.State.CONFIRMED
    time.sleep(1)
    assert running.mail == ["sbx@example.com"]


def test_tasks_queued_when_redis_crashes_are_run_after_it_restarts(stack):
    # given three paid orders whose deliveries wait in the queue (no worker yet)
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 3)
    orders = [bought(sku, f"queued{n}@example.com") for n in range(3)]

    # when Redis crashes and is started again, then a worker starts
    time.sleep(0.2)
    stack.redis.kill()
    stack.redis.start()
    stack.start_worker()

    # then every queued delivery is run, with one e-mail each
    assert wait_until(
        lambda: all(status_of(o) == Order.Status.DELIVERED for o in orders) and len(stack.mail) == 3, timeout=30
    )
    time.sleep(1)
    assert sorted(stack.mail) == [f"queued{n}@example.com" for n in range(3)]


def test_a_broker_outage_loses_no_paid_order(running):
    # given the broker crashes while the worker runs
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 2)
    running.redis.kill()

    # when a payment is confirmed meanwhile: committed, its delivery task could not be queued
    during = bought(sku, "during@example.com")
    assert status_of(during) == Order.Status.PAID
    time.sleep(OUTAGE)
    running.redis.start()

    # then the worker takes tasks again (restarted by its supervisor if it had to be), the sweeper
    # finds the order that was never queued, and a payment made afterwards is delivered as usual
    after = bought(sku, "after@example.com")
    sweep_at = Order.objects.get(pk=during.pk).paid_at + django_settings.DELIVERY_SWEEP_AFTER
    assert services.sweep_undelivered_orders(now=sweep_at) == [during.pk]
    assert wait_until(
        lambda: {status_of(during), status_of(after)} == {Order.Status.DELIVERED} and len(running.mail) == 2, timeout=40
    ), running.worker_log[-3000:]
    time.sleep(1)
    assert sorted(running.mail) == ["after@example.com", "during@example.com"]
