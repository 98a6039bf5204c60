"""Back-office jobs: create one, move it through its states, keep its private files, purge them.

A job's task calls `start`, then `report_progress` as it goes, then `finish` (or the task base
`kamen.tasks.JobTask` calls `fail`). Progress is written outside any transaction of the work itself, so
the job page sees it while the work runs.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from kamen.locking import lock_one
from kamen.models import JOB_MOVES, AdminJob

State = AdminJob.State


class IllegalJobMove(Exception):
    pass


def private_storage() -> FileSystemStorage:
    """Where job files live. Nothing asks it for a URL: only the download view reads these files."""
    return FileSystemStorage(location=settings.PRIVATE_FILES_ROOT)


def create_job(kind: str, *, requested_by, parameters: dict, total: int = 0, input_text: str | None = None) -> AdminJob:
    """A queued job; `input_text` (codes to import) is kept as a private file rather than in the row."""
    input_file = ""
    if input_text is not None:
        input_file = private_storage().save(f"jobs/{uuid.uuid4().hex}.in", ContentFile(input_text.encode()))
    return AdminJob.objects.create(
        kind=kind, requested_by=requested_by, parameters=parameters, total=total, input_file=input_file
    )


def read_input(job: AdminJob) -> str:
    with private_storage().open(job.input_file, "rb") as handle:
        return handle.read().decode()


def _move(job_id: int, to: str, **fields) -> AdminJob:
    with transaction.atomic():
        job = lock_one(AdminJob.objects, pk=job_id)
        if to not in JOB_MOVES[job.state]:
            raise IllegalJobMove(f"job {job.pk}: {job.state} → {to}")
        job.state = to
        for name, value in fields.items():
            setattr(job, name, value)
        job.save(update_fields=["state", *fields])
    return job


def start(job_id: int) -> AdminJob:
    """Mark the job running (again, when a retried task runs it once more) with its progress at zero."""
    return _move(job_id, State.RUNNING, started_at=timezone.now(), done=0)


def report_progress(job: AdminJob, done: int, total: int) -> None:
    AdminJob.objects.filter(pk=job.pk).update(done=min(done, total), total=total)


def finish(job: AdminJob, *, result: dict, content: bytes | None = None, file_name: str = "") -> AdminJob:
    """Mark the job done with its result and, for an export, the file to download."""
    fields = {"result": result, "finished_at": timezone.now()}
    if content is not None:
        fields["output_file"] = private_storage().save(f"jobs/{uuid.uuid4().hex}.out", ContentFile(content))
        fields["file_name"] = file_name
    job = _move(job.pk, State.DONE, **fields)
    report_progress(job, job.total, job.total)
    job.done = job.total
    return job


def fail(job_id: int, error: str) -> AdminJob | None:
    """Mark the job failed; a job already finished stays as it is."""
    try:
        return _move(job_id, State.FAILED, error=error[:500], finished_at=timezone.now())
    except (AdminJob.DoesNotExist, IllegalJobMove):
        return None


def purge_old_files(*, now=None) -> int:
    """Delete the files of jobs that finished more than ADMIN_JOB_FILES_DAYS ago; returns how many jobs."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ADMIN_JOB_FILES_DAYS)
    storage = private_storage()
    old = AdminJob.objects.filter(finished_at__lt=cutoff).exclude(input_file="", output_file="")
    purged = 0
    for job in old.only("pk", "input_file", "output_file"):
        for name in (job.input_file, job.output_file):
            if name:
                storage.delete(name)
        AdminJob.objects.filter(pk=job.pk).update(input_file="", output_file="")
        purged += 1
    return purged


def job_for_viewer(user, job_id: int) -> AdminJob:
    """The job, for the staff member who asked for it or a superuser; 404 for anyone else."""
    job = AdminJob.objects.filter(pk=job_id).select_related("requested_by").first()
    if job is None:
        raise Http404
    if not (user.is_active and user.is_staff):
        raise PermissionDenied
    if job.requested_by_id != user.pk and not user.is_superuser:
        raise Http404
    return job
