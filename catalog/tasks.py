"""Thin tasks of the catalog, retried under kamen.tasks.OutageTolerantTask's policy."""

from dataclasses import asdict

from celery import shared_task

from kamen.tasks import JobTask, OutageTolerantTask

from . import cache, services


@shared_task(base=OutageTolerantTask)
def start_catalog_generation_task() -> None:
    """A new catalog generation, sent REPLICA_LAG_SECONDS after a change when a read replica serves
    catalog pages: a page rendered meanwhile from rows the replica had not caught up on is not read again."""
    cache.new_generation()


@shared_task(base=OutageTolerantTask)
def sync_suppliers_task() -> int:
    """Read every enabled supplier's products, stock and cost; returns how many synced without error."""
    from .supply import sync_all_suppliers

    return sum(1 for result in sync_all_suppliers() if not result.error)


@shared_task(base=JobTask)
def import_codes_task(job_id: int) -> dict:
    """Run a card-code import job; running it again adds nothing it already added."""
    return asdict(services.run_code_import(job_id))
