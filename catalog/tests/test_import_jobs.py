"""A large card-code import runs as a back-office job: chunks, progress, a result, and no double import."""

import pytest
from django.urls import reverse

from catalog import services
from catalog.models import CardCode
from catalog.tasks import import_codes_task
from kamen import jobs
from kamen.models import AdminJob
from kamen.testing import factories

pytestmark = pytest.mark.usefixtures("english")

CODES = "\n".join(f"BIG-{i:05d} PASS-{i:05d}" for i in range(5000))
TEXT = CODES + "\n\n\n" + "one two three\nfour five six\n" + "BIG-00001 PASS-00001\n"


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def progress_seen(monkeypatch):
    seen: list[tuple[int, int]] = []
    report = jobs.report_progress

    def recording(job, done, total):
        seen.append((done, total))
        report(job, done, total)

    monkeypatch.setattr(jobs, "report_progress", recording)
    return seen


def test_a_5000_code_import_runs_as_a_job_with_progress(client, staff, sku, progress_seen, on_commit):
    client.force_login(staff)

    with on_commit(execute=True):
        response = client.post(reverse("admin:catalog_sku_import", args=[sku.pk]), {"text": TEXT})

    job = AdminJob.objects.get()
    assert response["Location"] == reverse("admin:kamen_adminjob_change", args=[job.pk])
    assert progress_seen[:3] == [(2000, 5000), (4000, 5000), (5000, 5000)]
    assert (job.state, job.done, job.total) == (AdminJob.State.DONE, 5000, 5000)
    assert {key: job.result[key] for key in ("added", "duplicates", "invalid", "blank")} == {
        "added": 5000,
        "duplicates": 1,
        "invalid": 2,
        "blank": 2,
    }
    assert CardCode.objects.filter(sku=sku).count() == 5005
    status = client.get(reverse("admin:kamen_adminjob_status", args=[job.pk])).json()
    assert status | {"summary": ""} == {
        "state": "done",
        "state_label": "Done",
        "done": 5000,
        "total": 5000,
        "percent": 100,
        "finished": True,
        "summary": "",
    }
    page = client.get(response["Location"]).content.decode()
    assert "Imported 5000 codes; skipped 1 duplicates, 2 invalid lines and 2 blank lines." in page
    assert 'src="/static/js/job-progress.js"' in page


def test_a_second_run_of_the_same_text_adds_nothing(staff, sku, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.start_code_import(sku, TEXT, csv_format=False, actor=staff)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.start_code_import(sku, TEXT, csv_format=False, actor=staff)

    again.refresh_from_db()
    assert (again.result["added"], again.result["duplicates"]) == (0, 5001)
    assert CardCode.objects.filter(sku=sku).count() == 5005


def test_a_run_that_died_midway_and_runs_again_imports_each_code_once(staff, sku, monkeypatch):
    job = jobs.create_job(AdminJob.Kind.CODE_IMPORT, requested_by=staff, parameters={"sku": sku.pk}, input_text=CODES)

    def worker_lost(job, done, total):
        raise SystemExit("worker killed")  # no task failure handler runs: the message is delivered again

    with monkeypatch.context() as patch:
        patch.setattr(jobs, "report_progress", worker_lost)
        with pytest.raises(SystemExit):
            services.run_code_import(job.pk)
    assert CardCode.objects.filter(sku=sku).count() == 5 + 2000

    import_codes_task.delay(job.pk)

    job.refresh_from_db()
    assert (job.state, job.result["added"], job.result["duplicates"]) == (AdminJob.State.DONE, 3000, 2000)
    assert CardCode.objects.filter(sku=sku).count() == 5005


def test_a_job_whose_task_fails_for_good_is_marked_failed(staff, sku, monkeypatch):
    job = jobs.create_job(AdminJob.Kind.CODE_IMPORT, requested_by=staff, parameters={"sku": 0}, input_text=CODES)

    with pytest.raises(Exception):  # noqa: B017  (eager tasks re-raise what failed: here a missing SKU)
        import_codes_task.delay(job.pk)

    job.refresh_from_db()
    assert job.state == AdminJob.State.FAILED
    assert "DoesNotExist" in job.error


def test_another_staff_member_cannot_see_the_job(client, staff, sku, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.start_code_import(sku, "ONE-CODE", csv_format=False, actor=staff)
    client.force_login(factories.UserFactory(email="other@example.com", is_staff=True))

    assert client.get(reverse("admin:kamen_adminjob_change", args=[job.pk])).status_code == 404
    assert client.get(reverse("admin:kamen_adminjob_status", args=[job.pk])).status_code == 404
