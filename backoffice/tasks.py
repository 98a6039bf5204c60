"""Thin tasks of the back office, retried under kamen.tasks.OutageTolerantTask's policy."""

from celery import shared_task

from kamen.tasks import JobTask, OutageTolerantTask

from . import exports, services


@shared_task(base=OutageTolerantTask)
def summarize_days_task() -> list[str]:
    """Write the daily summaries and reconciliation reports of the last two shop days (idempotent)."""
    return [day.isoformat() for day in services.summarize_recent()]


@shared_task(base=JobTask)
def run_export_task(job_id: int) -> int:
    """Write an export job's file; running it again writes the file again."""
    return exports.run_export(job_id)
