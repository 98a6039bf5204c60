"""Every task of the shop retries outages under one shared policy."""

from django.db import OperationalError
from kombu.exceptions import OperationalError as BrokerError

from kamen.celery import app
from kamen.tasks import OutageTolerantTask

OUR_APPS = ("orders.", "payments.", "accounts.", "catalog.", "kamen.")


def our_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith(OUR_APPS)}


def test_every_task_retries_database_and_broker_errors_with_back_off():
    tasks = our_tasks()

    assert {"orders.tasks.deliver_order_task", "orders.tasks.send_delivery_email_task"} <= set(tasks)
    assert "payments.tasks.send_sandbox_notification_task" in tasks
    for name, task in tasks.items():
        assert isinstance(task, OutageTolerantTask), name
        assert issubclass(OperationalError, task.autoretry_for) and issubclass(BrokerError, task.autoretry_for), name
        assert task.retry_backoff and task.retry_jitter and task.max_retries >= 8, name
        assert task.acks_late, name


def test_the_back_off_covers_an_outage_of_minutes():
    task = our_tasks()["orders.tasks.deliver_order_task"]
    # Without jitter the n-th retry waits factor * 2**n seconds, capped.
    waits = [min(task.retry_backoff * 2**n, task.retry_backoff_max) for n in range(task.max_retries)]

    assert waits[0] <= 2
    assert sum(waits) >= 15 * 60
