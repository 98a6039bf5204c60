"""Enqueueing after commit without letting a broker outage undo what was committed."""

import logging

from celery import Task
from kombu.exceptions import OperationalError

logger = logging.getLogger("kamen")


def enqueue(task: Task, *args) -> bool:
    """Send `task` to its queue; returns False, logged, when the broker cannot be reached.

    Called from on_commit callbacks: the write already committed (a payment confirmed, a refund
    approved), so a broker outage must not turn into an error for the gateway or the shopper. The
    beat sweepers pick up what was not enqueued once the broker is back.
    """
    try:
        task.delay(*args)
    except OperationalError:
        logger.exception("broker unreachable: %s%r not enqueued; the sweeper will pick it up", task.name, args)
        return False
    return True
