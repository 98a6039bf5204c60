"""KamenClient, the Python client of /api/v1/, against a real server: signed calls over HTTP, answers as
dicts, refusals as ApiError with their stable code, and a shop it cannot reach as ApiUnavailable."""

import gc
import json
import socket
import time

import pytest
import requests
from djmoney.money import Money

from accounts.api import BalanceView
from accounts.api_keys import create_api_key
from accounts.services import credit_wallet
from kamen import api_signing
from kamen.client import ApiError, ApiUnavailable, KamenClient, verify_webhook
from kamen.testing import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reseller():
    user = factories.UserFactory(email="client@example.com")
    credit_wallet(user, Money("25.00", "CNY"), actor=None, note="test")
    return user


@pytest.fixture
def kamen(live_server, reseller):
    made = create_api_key(reseller, name="client")
    with requests.Session() as session:
        yield KamenClient(live_server.url, key=made.key.key_id, secret=made.secret, timeout=10, session=session)
        # A connection left open keeps its thread of the live server, and that thread its database
        # connection (CONN_MAX_AGE), and then the test database cannot be dropped. Closing the session
        # is not enough: a caught ApiError's traceback holds its response and so its socket, and
        # pytest.raises makes that a reference cycle only the collector breaks.
        gc.collect()


def test_products_are_listed_at_the_callers_price_with_stock(kamen, sku):
    listed = kamen.products()
    [product] = listed["results"]
    assert product["id"] == sku.product_id
    [offered] = product["skus"]
    assert (offered["id"], offered["price"], offered["stock"]) == (sku.pk, "10.00", 5)
    assert kamen.product(sku.product_id)["skus"][0]["id"] == sku.pk


def test_an_order_is_placed_and_found_by_either_number_with_its_codes(kamen, sku):
    # when
    placed = kamen.create_order(sku=sku.pk, quantity=2, client_order_no="C-1")

    # then
    assert (placed["client_order_no"], placed["status"], placed["total"]) == ("C-1", "delivered", "20.00")
    by_ours = kamen.order(placed["number"])
    by_theirs = kamen.order_by_client_no("C-1")
    assert by_ours == by_theirs
    assert len(by_ours["codes"]) == 2
    assert all(code["secret"].startswith(f"CODE-{sku.pk}-") for code in by_ours["codes"])
    assert kamen.balance() == {"currency": "CNY", "balance": "5.00"}
    # A retry of the same order is answered with it, not charged again.
    assert kamen.create_order(sku=sku.pk, quantity=2, client_order_no="C-1")["number"] == placed["number"]
    assert kamen.balance()["balance"] == "5.00"


def test_refusals_are_api_errors_with_their_code(kamen, sku):
    with pytest.raises(ApiError) as poor:
        kamen.create_order(sku=sku.pk, quantity=3, client_order_no="C-2")
    assert (poor.value.code, poor.value.status) == ("INSUFFICIENT_BALANCE", 402)

    kamen.create_order(sku=sku.pk, quantity=1, client_order_no="C-3")
    with pytest.raises(ApiError) as taken:
        kamen.create_order(sku=sku.pk, quantity=2, client_order_no="C-3")
    assert (taken.value.code, taken.value.status) == ("DUPLICATE_ORDER", 409)

    with pytest.raises(ApiError) as invalid:
        kamen.create_order(sku=sku.pk, quantity=0, client_order_no="bad number!")
    assert invalid.value.code == "VALIDATION_ERROR"
    assert set(invalid.value.fields) == {"quantity", "client_order_no"}

    with pytest.raises(ApiError) as missing:
        kamen.order("K-NO-SUCH-ORDER")
    assert (missing.value.code, missing.value.status) == ("NOT_FOUND", 404)


def test_a_wrong_secret_is_refused_as_an_invalid_signature(live_server, kamen):
    forger = KamenClient(live_server.url, key=kamen.key, secret="0" * 64, session=kamen.session)
    with pytest.raises(ApiError) as refused:
        forger.balance()
    assert (refused.value.code, refused.value.status) == ("INVALID_SIGNATURE", 401)


def test_a_shop_that_cannot_be_reached_is_unavailable_and_nothing_was_sent():
    # given: a port nothing listens on (bound, then let go)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kamen = KamenClient(f"http://127.0.0.1:{port}", key="ak_x", secret="s", timeout=2)

    with pytest.raises(ApiUnavailable) as unreachable:
        kamen.create_order(sku=1, quantity=1, client_order_no="C-4")
    assert unreachable.value.sent is False


def test_a_server_error_is_unavailable(kamen, monkeypatch):
    def broken(self, request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(BalanceView, "get", broken)
    with pytest.raises(ApiUnavailable, match="HTTP 500"):
        kamen.balance()


def test_a_webhook_signed_by_the_shop_is_verified():
    # given: a webhook as the shop signs it
    secret = "webhook-secret"
    body = json.dumps({"event": "order.delivered", "number": "K1"}).encode()
    timestamp = str(int(time.time()))
    headers = {
        api_signing.TIMESTAMP_HEADER: timestamp,
        api_signing.SIGNATURE_HEADER: api_signing.sign_webhook(secret, timestamp=timestamp, body=body),
        api_signing.WEBHOOK_EVENT_HEADER: "order.delivered",
    }

    # then
    assert verify_webhook(secret, headers=headers, body=body) == {"event": "order.delivered", "number": "K1"}
    with pytest.raises(ValueError, match="bad signature"):
        verify_webhook(secret, headers=headers, body=body.replace(b"K1", b"K2"))
    with pytest.raises(ValueError, match="bad signature"):
        verify_webhook("another-secret", headers=headers, body=body)
    with pytest.raises(ValueError, match="stale"):
        verify_webhook(secret, headers=headers, body=body, now=time.time() + api_signing.FRESH_SECONDS + 1)
    with pytest.raises(ValueError, match="stale or missing"):
        verify_webhook(secret, headers={}, body=body)
