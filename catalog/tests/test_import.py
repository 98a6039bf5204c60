"""Card-code import through admin: paste or upload, clear counts, bad files refused with nothing written."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog import forms
from catalog.models import CardCode
from kamen.models import AdminJob
from kamen.testing import factories

pytestmark = pytest.mark.usefixtures("english")


def import_url(sku) -> str:
    return reverse("admin:catalog_sku_import", args=[sku.pk])


@pytest.fixture
def post_import(client, django_capture_on_commit_callbacks):
    """POST the import form and run the job it queues, as a worker would after the commit."""

    def post(sku, data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(import_url(sku), data)

    return post


def job_of(response) -> AdminJob:
    assert response.status_code == 302
    job = AdminJob.objects.latest("pk")
    assert response["Location"] == reverse("admin:kamen_adminjob_change", args=[job.pk])
    return job


def codes_of(sku) -> set[tuple[str, str]]:
    return {(code.card_no, code.secret) for code in CardCode.objects.filter(sku=sku)}


def test_pasted_codes_are_imported_with_counts(client, staff, sku, post_import):
    before = codes_of(sku)
    text = "\n".join(
        [
            "NEW-0001",
            "",
            "NEW-0002",
            "NEW-0001",  # repeated in the batch
            f"CODE-{sku.pk}-000000",  # already in stock
            "   ",
            "8800123456 PASSWORD-1",
            "8800123457----PASSWORD-2",
            "too many parts here",
        ]
    )
    client.force_login(staff)

    response = post_import(sku, {"text": text})

    job = job_of(response)
    assert codes_of(sku) - before == {
        ("", "NEW-0001"),
        ("", "NEW-0002"),
        ("8800123456", "PASSWORD-1"),
        ("8800123457", "PASSWORD-2"),
    }
    summary = "Imported 4 codes; skipped 2 duplicates, 1 invalid lines and 2 blank lines."
    job.refresh_from_db()
    assert (job.state, job.result["summary"]) == (AdminJob.State.DONE, summary)
    assert summary in client.get(response["Location"]).content.decode()


def test_an_uploaded_txt_file_with_a_byte_order_mark_is_imported(client, staff, sku, post_import):
    upload = SimpleUploadedFile("codes.txt", "\ufeffBOM-1\r\nBOM-2\r\n\r\n".encode())
    client.force_login(staff)

    response = post_import(sku, {"file": upload})

    job = job_of(response)
    assert {("", "BOM-1"), ("", "BOM-2")} <= codes_of(sku)
    job.refresh_from_db()
    assert job.result["summary"].startswith("Imported 2 codes; skipped 0 duplicates")


def test_an_uploaded_csv_file_is_read_as_csv(client, staff, sku, post_import):
    upload = SimpleUploadedFile("codes.CSV", "卡号001,密码 带空格\n卡号002,密码2\n".encode())
    client.force_login(staff)

    post_import(sku, {"file": upload})

    assert {("卡号001", "密码 带空格"), ("卡号002", "密码2")} <= codes_of(sku)


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("codes.exe", b"MZ\x90\x00", "Only .txt and .csv files can be imported."),
        ("codes", b"NO-EXTENSION", "Only .txt and .csv files can be imported."),
        ("codes.txt", "卡密".encode("gbk"), "The file is not UTF-8 text"),
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_imported(client, staff, sku, name, content, error):
    client.force_login(staff)

    response = client.post(import_url(sku), {"file": SimpleUploadedFile(name, content)})

    assert response.status_code == 200
    assert error in " ".join(response.context["form"].errors["file"])
    assert CardCode.objects.filter(sku=sku).count() == 5


def test_a_file_over_the_size_limit_is_refused(client, staff, sku, monkeypatch):
    monkeypatch.setattr(forms, "MAX_IMPORT_BYTES", 10)
    client.force_login(staff)

    response = client.post(import_url(sku), {"file": SimpleUploadedFile("big.txt", b"A-LONG-CODE-1\nA-LONG-CODE-2\n")})

    assert response.status_code == 200
    assert "larger than" in " ".join(response.context["form"].errors["file"])
    assert CardCode.objects.filter(sku=sku).count() == 5


@pytest.mark.parametrize(
    "data",
    [
        {"text": "  \n "},
        {"text": "BOTH-1", "file": SimpleUploadedFile("codes.txt", b"BOTH-2")},
    ],
)
def test_empty_or_double_input_is_refused(client, staff, sku, data):
    client.force_login(staff)

    response = client.post(import_url(sku), data)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert CardCode.objects.filter(sku=sku).count() == 5


def test_the_import_page_renders_with_the_stock_count(client, staff, sku):
    client.force_login(staff)

    response = client.get(import_url(sku))

    assert response.status_code == 200
    assert "has 5 codes available" in response.content.decode()


def test_import_needs_the_add_cardcode_permission(client, sku, post_import):
    clerk = factories.UserFactory(email="clerk@example.com", is_staff=True)
    client.force_login(clerk)

    assert client.post(import_url(sku), {"text": "SNEAKY-1"}).status_code == 403
    assert CardCode.objects.filter(sku=sku).count() == 5

    clerk.user_permissions.add(Permission.objects.get(codename="add_cardcode"))
    assert post_import(sku, {"text": "ALLOWED-1"}).status_code == 302
    assert CardCode.objects.filter(sku=sku).count() == 6
