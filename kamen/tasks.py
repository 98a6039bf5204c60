"""What every task shares: one retry policy for outages, and enqueueing that survives a broker outage.

A database restart, a Redis restart or a flaky SMTP server is a pause, not a failure: every task is
built on `OutageTolerantTask`, which retries those errors with exponential back-off and jitter, so a
minute's outage costs a minute's delay and nothing else. What even the retries cannot finish (the
broker was down when the retry itself was sent) is picked up by the beat sweepers.
"""

import logging

from celery import Task, shared_task
from celery.exceptions import Retry
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kamen import jobs

logger = logging.getLogger("kamen")

#: Errors that say "try again later": the database, the broker or a remote server is unreachable for
#: now. OSError covers sockets, timeouts and SMTP (smtplib's errors are OSErrors).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    BrokerError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)


class OutageTolerantTask(Task):
    """Base of every kamen task: transient errors are retried with back-off, then given up loudly.

    With the defaults (TASK_RETRY_BACKOFF_SECONDS=2, TASK_RETRY_BACKOFF_MAX_SECONDS=300,
    TASK_MAX_RETRIES=12) the n-th retry waits a random time up to 2·2ⁿ s, at most five minutes: the
    retries cover outages of a quarter of an hour and more, spread out so a recovering database is
    not hit by every queued task at once. Tasks are idempotent, so a retry never does anything twice.
    """

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = settings.TASK_RETRY_BACKOFF_SECONDS
    retry_backoff_max = settings.TASK_RETRY_BACKOFF_MAX_SECONDS
    retry_jitter = True
    max_retries = settings.TASK_MAX_RETRIES
    acks_late = True

    def backoff(self) -> int:
        """Seconds before the next retry under the shared policy, for tasks that retry explicitly."""
        return get_exponential_backoff_interval(
            factor=int(max(1, self.retry_backoff)),
            retries=self.request.retries,
            maximum=self.retry_backoff_max,
            full_jitter=self.retry_jitter,
        )

    def retry_later(self, *, exc: BaseException, **options):
        """`self.retry` with the shared back-off; raise what it returns."""
        return self.retry(exc=exc, countdown=self.backoff(), **options)

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        logger.error("task %s%r failed for good: %r", self.name, args, exc)


class JobTask(OutageTolerantTask):
    """Base of the tasks that run a back-office job (`kamen.models.AdminJob`), whose first argument is
    the job's id: minutes to run instead of seconds, and a job whose task gives up is marked failed, so
    its page stops waiting."""

    soft_time_limit = settings.ADMIN_JOB_SOFT_TIME_LIMIT
    time_limit = settings.ADMIN_JOB_SOFT_TIME_LIMIT + 60

    def __call__(self, *args, **kwargs):
        # A bug or bad data fails the job at once (also in eager runs, where Celery re-raises before any
        # failure handler); an outage is retried, and on_failure marks the job when the retries run out.
        try:
            return super().__call__(*args, **kwargs)
        except (Retry, *TRANSIENT_ERRORS):
            raise
        except Exception as exc:
            jobs.fail(args[0], f"{type(exc).__name__}: {exc}")
            raise

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        super().on_failure(exc, task_id, args, kwargs, einfo)
        jobs.fail(args[0], f"{type(exc).__name__}: {exc}")


@shared_task(base=OutageTolerantTask)
def purge_job_files_task() -> int:
    """Delete the files of back-office jobs older than ADMIN_JOB_FILES_DAYS; returns how many jobs."""
    return jobs.purge_old_files()


def enqueue(task: Task, *args, countdown: int = 0) -> bool:
    """Send `task` to its queue; returns False, logged, when the broker cannot be reached.

    Called from on_commit callbacks: the write already committed (a payment confirmed, a refund
    approved), so a broker outage must not turn into an error for the gateway or the shopper. The
    beat sweepers pick up what was not enqueued once the broker is back.
    """
    try:
        if countdown:
            task.apply_async(args, countdown=countdown)
        else:
            task.delay(*args)
    except BrokerError:
        logger.exception("broker unreachable: %s%r not enqueued; the sweeper will pick it up", task.name, args)
        return False
    return True
