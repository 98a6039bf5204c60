"""API 对接 in the member dashboard: keys made (their secret shown once), limited to addresses and
revoked; the orders programs placed; the callbacks told about them, resent on request. Nothing of
another member's can be seen or touched."""

import re

import pytest
from django.urls import reverse
from djmoney.money import Money

from accounts.api_keys import MAX_KEYS_PER_MEMBER, create_api_key, secret_of
from accounts.models import ApiKey
from accounts.services import credit_wallet
from kamen.testing import factories
from kamen.testing.api import SignedApi
from orders.models import Order, WebhookDelivery

pytestmark = pytest.mark.django_db

KEYS = reverse("orders:developer")
SECRET_SHOWN = re.compile(r"data-secret>([0-9a-f]{64})</code>")


@pytest.fixture
def member(client, shopper):
    client.force_login(shopper)
    return shopper


@pytest.fixture
def stranger(db):
    return factories.UserFactory(email="stranger@example.com")


def make_key_on_the_page(client, name="server", allowed_ips=""):
    page = client.post(KEYS, {"name": name, "allowed_ips": allowed_ips})
    assert page.status_code == 200, page.content.decode()
    [secret] = SECRET_SHOWN.findall(page.content.decode())
    return ApiKey.objects.get(name=name), secret, page


def api_order(api, sku, number):
    answer = api.post("/api/v1/orders/", {"sku": sku.pk, "quantity": 1, "client_order_no": number})
    assert answer.status_code == 201, answer.content
    return Order.objects.get(number=answer.json()["number"])


def test_the_pages_are_for_signed_in_members(client):
    for name in ("developer", "developer_guide", "developer_orders", "developer_webhooks"):
        answer = client.get(reverse(f"orders:{name}"))
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("account_login"))


def test_a_new_key_shows_its_secret_once_and_signs_requests(client, member):
    # when
    key, secret, page = make_key_on_the_page(client)
    # then: the secret is the one the server derives, and the row does not hold it
    assert key.user == member and key.is_active
    assert secret == secret_of(key)
    stored = [str(getattr(key, field.attname)) for field in ApiKey._meta.concrete_fields]
    assert not any(secret in value for value in stored)
    assert page["Cache-Control"].startswith("max-age=0") and "no-store" in page["Cache-Control"]
    assert secret not in str(dict(client.session)) and secret not in str(client.cookies)
    # a second load of the page lists the key without its secret
    again = client.get(KEYS).content.decode()
    assert key.key_id in again and secret not in again and "data-secret" not in again
    assert SignedApi(key, secret).get("/api/v1/balance/").status_code == 200


def test_a_bad_allow_list_line_is_shown_and_nothing_is_made(client, member, english):
    page = client.post(KEYS, {"name": "server", "allowed_ips": "203.0.113.7\nnot-an-ip"})
    assert page.status_code == 400
    assert "“not-an-ip” is not an IP address or network." in page.content.decode()
    assert not ApiKey.objects.exists()


def test_the_keys_in_use_are_limited(client, member, english):
    for n in range(MAX_KEYS_PER_MEMBER):
        create_api_key(member, name=f"k{n}")
    page = client.post(KEYS, {"name": "one more"})
    assert page.status_code == 400 and "revoke one first" in page.content.decode()
    assert ApiKey.objects.filter(user=member).count() == MAX_KEYS_PER_MEMBER


def test_a_revoked_key_is_refused_by_the_api(client, member):
    key, secret, _page = make_key_on_the_page(client)
    answer = client.post(reverse("orders:developer_revoke", args=[key.pk]))
    assert answer.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    refused = SignedApi(key, secret).get("/api/v1/balance/")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "INVALID_SIGNATURE"
    # A revoked key is listed as such, with no form to edit or revoke it again.
    listed = client.get(KEYS).content.decode()
    assert "is-revoked" in listed and reverse("orders:developer_revoke", args=[key.pk]) not in listed


def test_an_allow_list_limits_where_a_key_works_from(client, member, english):
    key, secret, _page = make_key_on_the_page(client)
    edit = reverse("orders:developer_allowed_ips", args=[key.pk])
    # a bad line changes nothing and is shown by the key's form
    refused = client.post(edit, {"allowed_ips": "10.0.0.0/33"})
    assert refused.status_code == 400 and "“10.0.0.0/33” is not an IP address or network." in refused.content.decode()
    key.refresh_from_db()
    assert key.allowed_ips == ""
    # networks elsewhere: requests from the test client's 127.0.0.1 are refused
    assert client.post(edit, {"allowed_ips": " 203.0.113.9 \n198.51.100.0/24\n"}).status_code == 302
    key.refresh_from_db()
    assert key.networks == ["203.0.113.9/32", "198.51.100.0/24"]
    assert SignedApi(key, secret).get("/api/v1/balance/").status_code == 401
    # and with loopback allowed, they work again
    client.post(edit, {"allowed_ips": "127.0.0.0/8"})
    assert SignedApi(key, secret).get("/api/v1/balance/").status_code == 200


def test_another_members_key_and_callbacks_are_not_found(client, member, stranger, sku, api_for):
    theirs = create_api_key(stranger, name="theirs").key
    credit_wallet(stranger, Money("100.00", "CNY"), actor=None, note="t")
    order = api_order(api_for(stranger), sku, "S-1")
    delivery = WebhookDelivery.objects.create(
        order=order, event="order.delivered", url="https://example.com/hook", payload={}, state="failed", attempts=10
    )

    assert client.post(reverse("orders:developer_revoke", args=[theirs.pk])).status_code == 404
    assert (
        client.post(reverse("orders:developer_allowed_ips", args=[theirs.pk]), {"allowed_ips": ""}).status_code == 404
    )
    assert client.post(reverse("orders:developer_resend", args=[delivery.pk])).status_code == 404

    theirs.refresh_from_db()
    delivery.refresh_from_db()
    assert theirs.is_active and delivery.state == "failed"
    for name in ("developer", "developer_orders", "developer_webhooks"):
        page = client.get(reverse(f"orders:{name}")).content.decode()
        assert theirs.key_id not in page and order.number not in page


def test_the_orders_page_lists_only_the_members_api_orders(
    client, member, stranger, sku, api_for, django_assert_max_num_queries
):
    credit_wallet(member, Money("100.00", "CNY"), actor=None, note="t")
    credit_wallet(stranger, Money("100.00", "CNY"), actor=None, note="t")
    mine = api_for(member)
    ours = [api_order(mine, sku, f"R-{n}") for n in range(3)]
    bought_on_the_site = factories.place_order(sku, quantity=1, user=member).order
    someone_elses = api_order(api_for(stranger), sku, "S-1")

    with django_assert_max_num_queries(8):
        page = client.get(reverse("orders:developer_orders"))

    html = page.content.decode()
    assert [o.number for o in page.context["page"].object_list] == [o.number for o in reversed(ours)]
    assert all(o.get_absolute_url() in html and o.client_order_no in html for o in ours)
    assert bought_on_the_site.number not in html and someone_elses.number not in html


def test_the_callbacks_page_shows_the_last_answer_and_a_resend_sends_again(
    client, member, sku, api_for, monkeypatch, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    credit_wallet(member, Money("100.00", "CNY"), actor=None, note="t")
    api = api_for(member)
    deliveries = [
        WebhookDelivery.objects.create(
            order=api_order(api, sku, f"H-{n}"),
            event="order.delivered",
            url="https://example.com/hook",
            payload={},
            state="failed",
            attempts=10,
            last_status=503,
            last_response="<b>try later</b>",
        )
        for n in range(3)
    ]

    with django_assert_max_num_queries(8):
        page = client.get(reverse("orders:developer_webhooks"))

    html = page.content.decode()
    assert page.context["page"].object_list[0] == deliveries[-1]
    assert "HTTP 503" in html and "&lt;b&gt;try later&lt;/b&gt;" in html and "<b>try later" not in html
    # when
    sent = []
    monkeypatch.setattr("orders.services.webhooks.enqueue_webhook", lambda pk, **kwargs: sent.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("orders:developer_resend", args=[deliveries[0].pk]))
    # then
    assert answer.status_code == 302 and answer["Location"] == reverse("orders:developer_webhooks")
    deliveries[0].refresh_from_db()
    assert deliveries[0].state == "pending" and sent == [deliveries[0].pk]


def test_the_guide_explains_signing_errors_and_callbacks(client, member):
    html = client.get(reverse("orders:developer_guide")).content.decode()
    for header in ("X-Kamen-Key", "X-Kamen-Timestamp", "X-Kamen-Nonce", "X-Kamen-Signature"):
        assert header in html
    for code in ("INSUFFICIENT_BALANCE", "OUT_OF_STOCK", "INVALID_SIGNATURE", "DUPLICATE_ORDER", "RATE_LIMITED"):
        assert code in html
    assert "KamenClient(" in html and "verify_webhook" in html
    assert reverse("api:docs") in html and reverse("api:schema") in html


@pytest.mark.parametrize("value", ["\x00", "x" * 3000, "١٢٧.٠.٠.١", "::1/200", "1e999999"])
def test_odd_input_is_refused_by_the_forms_never_with_a_5xx(client, member, value):
    key = create_api_key(member, name="k").key
    made = client.post(KEYS, {"name": value, "allowed_ips": value})
    edited = client.post(reverse("orders:developer_allowed_ips", args=[key.pk]), {"allowed_ips": value})
    listed = client.get(reverse("orders:developer_webhooks"), {"page": value})
    assert (made.status_code, edited.status_code) == (400, 400) and listed.status_code in (200, 400)
    key.refresh_from_db()
    assert ApiKey.objects.filter(user=member).count() == 1 and key.allowed_ips == ""
