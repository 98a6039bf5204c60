"""Exports from the change lists: the filtered rows, readable Chinese, secrets only when allowed and audited,
files only for the one who asked, and old files purged."""

import csv
import datetime
import io

import openpyxl
import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts import services as wallet_services
from catalog.models import CardCode
from kamen import jobs
from kamen.models import AdminJob, StaffAction
from kamen.tasks import purge_job_files_task
from kamen.testing import factories

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def export(client, django_capture_on_commit_callbacks):
    """Run the export action of a change list (`query` its filters) on every row it lists, as a
    staff member would with "select all", and return the job it queued, run."""

    def run(model: str, *, query: str = "", file_format: str = "csv", pick: int, **extra):
        url = reverse(f"admin:{model}_changelist") + (f"?{query}" if query else "")
        data = {
            "action": "export_rows",
            helpers.ACTION_CHECKBOX_NAME: [pick],
            "select_across": "1",
            "apply": "1",
            "file_format": file_format,
            **extra,
        }
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data)
        if response.status_code != 302:
            return response
        job = AdminJob.objects.latest("pk")
        assert response["Location"] == reverse("admin:kamen_adminjob_change", args=[job.pk])
        return job

    return run


def download(client, job: AdminJob):
    return client.get(reverse("admin:kamen_adminjob_download", args=[job.pk]))


def csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8")[1:])))


def xlsx_rows(response) -> list[list]:
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


@pytest.fixture
def orders(sku, paid_order):
    delivered = [paid_order(sku, 1), paid_order(sku, 2)]
    pending = factories.place_order(sku, "sandbox", quantity=1).order
    return delivered, pending


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_orders_export_holds_the_filtered_rows_with_chinese_text(client, staff, orders, export, file_format):
    (first, second), pending = orders
    client.force_login(staff)

    job = export("orders_order", query="status__exact=delivered", file_format=file_format, pick=first.pk)

    assert (job.state, job.result["rows"], job.total) == (AdminJob.State.DONE, 2, 2)
    response = download(client, job)
    assert response["Content-Disposition"].startswith("attachment")
    assert "no-store" in response["Cache-Control"]
    rows = csv_rows(response) if file_format == "csv" else xlsx_rows(response)
    header, *lines = rows
    assert header[:3] == ["order number", "created", "status"]
    assert sorted(line[0] for line in lines) == sorted([first.number, second.number])
    assert pending.number not in {line[0] for line in lines}
    assert all(line[6].startswith("测试商品") for line in lines)  # the product title, in Chinese
    action = StaffAction.objects.get(kind=StaffAction.Kind.EXPORT)
    assert action.after == {"export": "orders", "rows": 2, "format": file_format, "secrets": False}
    assert action.note == "status__exact=delivered"
    assert not StaffAction.objects.filter(kind=StaffAction.Kind.CODE_REVEAL).exists()


def test_a_member_s_text_that_excel_would_run_as_a_formula_is_written_as_text(client, staff, shopper, export):
    wallet_services.credit_wallet(shopper, Money("5.00", "CNY"), actor=staff, note="=HYPERLINK(1)")
    client.force_login(staff)
    entry = shopper.wallet.entries.get()

    csv_job = export("accounts_walletentry", pick=entry.pk)
    xlsx_job = export("accounts_walletentry", pick=entry.pk, file_format="xlsx")

    assert csv_rows(download(client, csv_job))[1][7] == "'=HYPERLINK(1)"
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(download(client, xlsx_job).streaming_content)))
    cell = workbook.active.cell(row=2, column=8)
    assert (cell.value, cell.data_type) == ("=HYPERLINK(1)", "s")


def test_a_members_export_has_no_password_hashes(client, staff, shopper, export):
    client.force_login(staff)

    job = export("accounts_user", query=f"q={shopper.email}", pick=shopper.pk)

    header, *lines = csv_rows(download(client, job))
    assert header == ["e-mail address", "level", "joined", "paid in all", "balance", "active"]
    assert [line[0] for line in lines] == [shopper.email]
    assert shopper.password not in b"".join(download(client, job).streaming_content).decode()


@pytest.fixture
def clerk(db):
    """Staff who may view card codes, but not reveal them."""
    clerk = factories.UserFactory(email="clerk@example.com", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_cardcode"))
    return clerk


def test_unsold_codes_without_the_reveal_permission_have_no_secrets(client, clerk, sku, export):
    CardCode.objects.filter(pk=CardCode.objects.filter(sku=sku).first().pk).update(status=CardCode.Status.VOID)
    client.force_login(clerk)
    any_code = CardCode.objects.filter(sku=sku).first().pk

    page = client.post(
        reverse("admin:catalog_cardcode_changelist"),
        {"action": "export_rows", helpers.ACTION_CHECKBOX_NAME: [any_code], "select_across": "1"},
    )
    forged = export("catalog_cardcode", query=f"sku={sku.pk}", pick=any_code, include_secrets="on")
    job = export("catalog_cardcode", query=f"sku={sku.pk}", pick=any_code)

    assert page.status_code == 200 and "include_secrets" not in page.context["form"].fields
    assert forged.status_code == 403
    header, *lines = csv_rows(download(client, job))
    assert "card secret" not in header and "card number" not in header
    assert len(lines) == 4  # the voided code is not unsold
    assert not any(f"CODE-{sku.pk}-" in cell for line in lines for cell in line)
    assert StaffAction.objects.filter(kind=StaffAction.Kind.EXPORT).count() == 1
    assert not StaffAction.objects.filter(kind=StaffAction.Kind.CODE_REVEAL).exists()


def test_unsold_codes_with_the_permission_and_the_tick_have_secrets_and_both_audit_rows(client, clerk, sku, export):
    clerk.user_permissions.add(Permission.objects.get(codename="reveal_cardcode"))
    client.force_login(clerk)
    any_code = CardCode.objects.filter(sku=sku).first().pk

    job = export("catalog_cardcode", query=f"sku={sku.pk}", file_format="xlsx", pick=any_code, include_secrets="on")

    header, *lines = xlsx_rows(download(client, job))
    assert header[-2:] == ["card number", "card secret"]
    assert sorted(line[-1] for line in lines) == [f"CODE-{sku.pk}-{i:06d}" for i in range(5)]
    export_row = StaffAction.objects.get(kind=StaffAction.Kind.EXPORT)
    reveal_row = StaffAction.objects.get(kind=StaffAction.Kind.CODE_REVEAL)
    assert export_row.actor == reveal_row.actor == clerk
    assert reveal_row.after == {"codes": 5, "export": "unsold_codes"}


def test_the_sku_list_exports_the_unsold_codes_of_the_chosen_skus(client, staff, sku, export):
    factories.stock(factories.SkuFactory(), 3, prefix="OTHER")
    client.force_login(staff)

    job = export("catalog_sku", query=f"q={sku.name}", pick=sku.pk)

    assert job.result["rows"] == 5


def test_the_download_is_only_for_who_asked(client, staff, orders, export):
    (first, _second), _pending = orders
    client.force_login(staff)
    job = export("orders_order", pick=first.pk)

    client.force_login(factories.UserFactory(email="other-staff@example.com", is_staff=True))
    assert download(client, job).status_code == 404
    client.logout()
    anonymous = download(client, job)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    client.force_login(factories.UserFactory(email="shopper2@example.com"))
    assert download(client, job).status_code in (302, 403, 404)


def test_the_purge_task_deletes_old_files(client, staff, orders, export, settings):
    (first, _second), _pending = orders
    client.force_login(staff)
    old, recent = export("orders_order", pick=first.pk), export("orders_order", pick=first.pk)
    AdminJob.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - datetime.timedelta(days=settings.ADMIN_JOB_FILES_DAYS + 1)
    )

    assert purge_job_files_task.delay().get() == 1

    assert not jobs.private_storage().exists(old.output_file)
    assert jobs.private_storage().exists(recent.output_file)
    assert download(client, old).status_code == 404
    assert download(client, recent).status_code == 200
