"""Pages cached for members: the members of one level share a copy — their prices — and each gets
their own address and unread badge put back; another level, staff and visitors have copies of their
own."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import inbox
from accounts.levels import set_level
from accounts.models import MemberLevel
from kamen.testing import factories
from kamen.viewers import SessionStore


@pytest.fixture
def levels(db):
    return {
        "普通": MemberLevel.objects.create(name="普通会员", rank=0),
        "白银": MemberLevel.objects.create(name="白银会员", rank=10, discount=Decimal("0.95")),
        "黄金": MemberLevel.objects.create(name="黄金会员", rank=20, discount=Decimal("0.88")),
    }


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client, url) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


@pytest.mark.parametrize("where", ["product", "category", "home"])
def test_members_of_a_level_share_a_cached_page_with_their_own_address_and_badge(sku, levels, where):
    url = {
        "product": sku.product.get_absolute_url(),
        "category": reverse("catalog:category", args=[sku.product.category.slug]),
        "home": reverse("catalog:home"),
    }[where]
    first = factories.UserFactory(email="first@example.com", level=levels["白银"])
    second = factories.UserFactory(email="second@example.com", level=levels["白银"])
    inbox.notify(second, email=second.email, kind="coupon", key="k1", coupon="券")
    inbox.notify(second, email=second.email, kind="coupon", key="k2", coupon="券")
    first_client, second_client = signed_in(first), signed_in(second)

    rendered, _ = page(first_client, url)
    html, queries = page(second_client, url)

    assert "¥9.50" in rendered and "¥9.50" in html  # 白银 95折 of ¥10.00
    assert "first@example.com" in rendered and "first@example.com" not in html
    assert "second@example.com" in html and 'class="badge-count"' in html and ">2</span>" in html
    assert 'class="badge-count"' not in rendered
    # From the cache: the session, the member, their unread count and live stock, no page render.
    assert queries <= 4


def test_another_level_staff_and_visitors_get_copies_of_their_own(sku, levels):
    url = sku.product.get_absolute_url()
    silver = signed_in(factories.UserFactory(level=levels["白银"]))
    gold = signed_in(factories.UserFactory(level=levels["黄金"]))
    staff = signed_in(factories.UserFactory(level=levels["白银"], is_staff=True))

    silver_page, gold_page, staff_page = (page(client, url)[0] for client in (silver, gold, staff))
    visitor_page = page(Client(), url)[0]

    assert "¥9.50" in silver_page and "¥8.80" in gold_page
    assert 'href="/admin/"' in staff_page and 'href="/admin/"' not in silver_page
    assert 'name="contact_email"' in visitor_page and 'name="contact_email"' not in silver_page
    assert "¥10.00" in visitor_page and "¥9.50" not in visitor_page


def test_reading_a_message_takes_the_badge_off_the_cached_page(sku, levels, django_capture_on_commit_callbacks):
    member = factories.UserFactory(level=levels["白银"])
    with django_capture_on_commit_callbacks(execute=True):
        inbox.notify(member, email=member.email, kind="coupon", key="k", coupon="券")
    client = signed_in(member)
    assert 'class="badge-count"' in page(client, sku.product.get_absolute_url())[0]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:mark_read"))

    assert 'class="badge-count"' not in page(client, sku.product.get_absolute_url())[0]


# ---------------------------------------------------------------------------------------------------
# The viewer card (kamen.viewers): who is looking, without reading their session and user rows
# ---------------------------------------------------------------------------------------------------
def statements_on(tables: tuple[str, ...], client, url) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in queries if any(f'"{table}"' in q["sql"] for table in tables)]


SESSION_AND_USER = ("django_session", "accounts_user")


def test_a_members_next_cached_page_reads_neither_their_session_nor_their_row(sku, levels):
    member = factories.UserFactory(email="card@example.com", level=levels["白银"])
    client = signed_in(member)
    page(client, sku.product.get_absolute_url())  # the full way: leaves the card

    html, statements = statements_on(SESSION_AND_USER, client, sku.product.get_absolute_url())

    assert statements == []
    assert "card@example.com" in html and "¥9.50" in html


def test_a_new_level_shows_on_the_members_next_cached_page(sku, levels, staff):
    member = factories.UserFactory(level=levels["白银"])
    client = signed_in(member)
    assert "¥9.50" in page(client, sku.product.get_absolute_url())[0]

    set_level(member.pk, levels["黄金"], actor=staff, note="大客户")

    assert "¥8.80" in page(client, sku.product.get_absolute_url())[0]


def test_an_address_changed_elsewhere_shows_at_once(sku, levels):
    member = factories.UserFactory(email="old@example.com", level=levels["白银"])
    client = signed_in(member)
    page(client, sku.product.get_absolute_url())

    member.email = "new@example.com"
    member.save()

    html = page(client, sku.product.get_absolute_url())[0]
    assert "new@example.com" in html and "old@example.com" not in html


def test_after_signing_out_the_old_cookie_gets_a_visitors_page(sku, levels):
    member = factories.UserFactory(email="leaving@example.com", level=levels["白银"])
    client = signed_in(member)
    page(client, sku.product.get_absolute_url())
    old_cookie = client.cookies["sessionid"].value

    client.post(reverse("account_logout"))
    stolen = Client()
    stolen.cookies["sessionid"] = old_cookie

    html = page(stolen, sku.product.get_absolute_url())[0]
    assert "leaving@example.com" not in html and "¥10.00" in html and 'name="contact_email"' in html


@pytest.mark.parametrize("change", ["password", "deactivated", "session deleted"])
def test_a_session_ended_elsewhere_ends_the_members_cached_pages(sku, levels, change):
    member = factories.UserFactory(email="ended@example.com", level=levels["白银"])
    client = signed_in(member)
    page(client, sku.product.get_absolute_url())

    if change == "password":  # signs every other session out (Django checks the session's hash)
        member.set_password("a-new-password-1234")
        member.save()
    elif change == "deactivated":
        member.is_active = False
        member.save()
    else:
        SessionStore(client.cookies["sessionid"].value).delete()

    html = page(client, sku.product.get_absolute_url())[0]
    assert "ended@example.com" not in html and "¥10.00" in html


def test_a_guest_with_a_session_who_signs_in_gets_the_members_page(sku, levels):
    member = factories.UserFactory(email="guest-then@example.com", level=levels["白银"])
    client = Client()
    client.get(reverse("catalog:home"))
    session = client.session
    session["orders"] = ["X1"]  # a guest's access to an order keeps a session
    session.save()
    client.cookies["sessionid"] = session.session_key
    assert "¥10.00" in page(client, sku.product.get_absolute_url())[0]

    client.force_login(member)

    html = page(client, sku.product.get_absolute_url())[0]
    assert "guest-then@example.com" in html and "¥9.50" in html
