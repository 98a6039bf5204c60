"""A real Celery worker on Redis delivers what a payment or the sweeper enqueues (promise 3).

The worker runs in a thread of this process with the project's own app, routes and task options; only
the broker (a redis-server of the module's own) and eagerness are changed for the test, and restored
afterwards.
"""

import time
from datetime import timedelta

import kombu.pools
import pytest
import redis
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.utils import timezone

from catalog.models import CardCode
from kamen.celery import app
from kamen.testing import factories
from kamen.testing.outage import RedisServer
from orders import services
from orders.models import Order

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("transactional_db")]

QUEUES = ["delivery", "default", "mail"]


@pytest.fixture(scope="module")
def broker():
    """A redis-server of this module's own: no other test, process or leftover message shares it."""
    server = RedisServer().start()
    yield server
    server.cleanup()


def _drop_broker_connections() -> None:
    # The app caches its broker pools (kombu keeps them per URL); close them when the broker URL changes.
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def _leave_test_logging_alone(**kwargs) -> None:
    """Any setup_logging receiver stops the worker from taking over the root logger pytest captures."""


@pytest.fixture
def worker_runs(settings, broker):
    """Start a real worker on the module's Redis; yields the list of (task name, queue) the worker ran."""
    url = broker.url
    redis.Redis.from_url(url).flushdb()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    overrides = {"broker_url": url, "task_always_eager": False}
    saved = {key: app.conf[key] for key in overrides}
    saved_consume_from = app.amqp.queues._consume_from
    runs = []

    def record(sender, task_id, task, **kwargs):
        if not task.request.is_eager:
            runs.append((task.name, task.request.delivery_info["routing_key"]))

    signals.setup_logging.connect(_leave_test_logging_alone)
    signals.task_postrun.connect(record, weak=False)
    app.conf.update(overrides)
    _drop_broker_connections()
    try:
        with start_worker(app, queues=QUEUES, pool="solo", perform_ping_check=False, shutdown_timeout=20):
            yield runs
    finally:
        app.conf.update(saved)
        _drop_broker_connections()
        app.amqp.queues._consume_from = saved_consume_from
        signals.task_postrun.disconnect(record)
        signals.setup_logging.disconnect(_leave_test_logging_alone)
        redis.Redis.from_url(url).flushdb()


def wait_for(condition, *, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def status_of(order_id: int) -> str:
    return Order.objects.get(pk=order_id).status


def test_a_confirmed_payment_is_delivered_and_mailed_by_the_worker(worker_runs):
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 3)
    placed = factories.place_order(sku, quantity=2, email="buyer@example.com")

    # when
    factories.confirm(placed.payment)

    # then
    assert wait_for(lambda: status_of(placed.order.pk) == Order.Status.DELIVERED and len(mail.outbox) == 1)
    assert CardCode.objects.filter(order=placed.order, status=CardCode.Status.SOLD).count() == 2
    assert mail.outbox[0].to == ["buyer@example.com"]
    assert placed.order.get_secret_url() in mail.outbox[0].body
    assert wait_for(lambda: len(worker_runs) == 2)
    assert worker_runs == [
        ("orders.tasks.deliver_order_task", "delivery"),
        ("orders.tasks.send_delivery_email_task", "mail"),
    ]


def test_the_sweeper_re_enqueues_a_paid_order_whose_message_was_lost(worker_runs):
    # given an order marked paid two minutes ago whose delivery message never reached a worker
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 2)
    order = factories.place_order(sku, quantity=1).order
    paid_at = timezone.now() - timedelta(minutes=2)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID, paid_at=paid_at)

    # when
    swept = services.sweep_undelivered_orders()

    # then
    assert swept == [order.pk]
    assert wait_for(lambda: status_of(order.pk) == Order.Status.DELIVERED and len(mail.outbox) == 1)
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 1
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 1
    assert ("orders.tasks.deliver_order_task", "delivery") in worker_runs
