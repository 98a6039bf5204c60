"""Thin tasks of the back office, retried under kamen.tasks.OutageTolerantTask's policy."""

from celery import shared_task

from kamen.tasks import OutageTolerantTask

from . import services


@shared_task(base=OutageTolerantTask)
def summarize_days_task() -> list[str]:
    """Write the daily summaries and reconciliation reports of the last two shop days (idempotent)."""
    return [day.isoformat() for day in services.summarize_recent()]
