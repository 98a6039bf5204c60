"""Celery application.

Embedded runs (no REDIS_URL) execute tasks eagerly in-process; real deployments run workers on the
queues `delivery`, `default` and `mail` plus one beat, each under a supervisor that restarts it
(deploy/systemd/). Configuration lives in Django settings under the CELERY_ namespace. Workers and
beat leave heartbeats for /health/ (kamen/health.py).
"""

import os

from celery import Celery, bootsteps, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen.settings")

app = Celery("kamen")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class Heartbeat(bootsteps.StartStopStep):
    """While a worker's consumer runs (connected, taking tasks), it records a heartbeat every few seconds."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, consumer, **kwargs) -> None:
        super().__init__(consumer, **kwargs)
        self.timer_entry = None

    def start(self, consumer) -> None:
        from .health import HEARTBEAT_SECONDS, record_worker_heartbeat

        record_worker_heartbeat(consumer.hostname)
        self.timer_entry = consumer.timer.call_repeatedly(
            HEARTBEAT_SECONDS, record_worker_heartbeat, (consumer.hostname,)
        )

    def stop(self, consumer) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    shutdown = stop


app.steps["consumer"].add(Heartbeat)

_in_beat = False


@signals.beat_init.connect
def _beat_started(**kwargs) -> None:
    global _in_beat
    _in_beat = True


@signals.after_task_publish.connect
def _beat_published(**kwargs) -> None:
    """Beat publishing its schedule is beat being alive."""
    if _in_beat:
        from .health import record_beat_heartbeat

        record_beat_heartbeat()
