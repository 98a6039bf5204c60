"""Celery application.

Embedded runs (no REDIS_URL) execute tasks eagerly in-process; real deployments run workers on the
queues `delivery`, `default` and `mail` plus one beat. Configuration lives in Django settings under the
CELERY_ namespace.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen.settings")

app = Celery("kamen")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
