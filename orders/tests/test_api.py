"""The downstream API as a reseller's program uses it: signed calls, orders paid from the wallet."""

import pytest
from djmoney.money import Money

from accounts.models import ApiKey, MemberLevel
from accounts.services import credit_wallet
from catalog.models import CardCode, LevelPrice
from kamen import api_signing
from kamen.testing import factories
from orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def reseller(db):
    user = factories.UserFactory(email="reseller@example.com")
    credit_wallet(user, Money("100.00", "CNY"), actor=None, note="test")
    return user


@pytest.fixture
def api(api_for, reseller):
    return api_for(reseller)


def balance_of(user) -> str:
    user.wallet.refresh_from_db()
    return f"{user.wallet.balance.amount:.2f}"


def test_products_show_the_callers_level_price_and_exact_stock(api, reseller, sku):
    # given: a level with a fixed price for this Sku
    level = MemberLevel.objects.create(name="代理", rank=5)
    LevelPrice.objects.create(sku=sku, level=level, unit_price=Money("8.50", "CNY"))
    reseller.level = level
    reseller.save(update_fields=["level"])
    # when
    answer = api.get("/api/v1/products/")
    # then
    assert answer.status_code == 200, answer.content
    [product] = answer.json()["results"]
    [listed] = product["skus"]
    assert (listed["id"], listed["price"], listed["retail_price"]) == (sku.pk, "8.50", "10.00")
    assert (listed["stock"], listed["availability"]) == (5, "low")
    assert api.get(f"/api/v1/products/{sku.product_id}/").json()["skus"][0]["price"] == "8.50"


def test_an_order_is_paid_from_the_wallet_and_returns_its_codes(api, reseller, sku, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("/api/v1/orders/", {"sku": sku.pk, "quantity": 2, "client_order_no": "R-1"})
    assert answer.status_code == 201, answer.content
    number = answer.json()["number"]
    order = api.get(f"/api/v1/orders/{number}/").json()
    assert order["status"] == "delivered"
    assert order["total"] == "20.00"
    assert len(order["codes"]) == 2 and all(code["secret"].startswith("CODE-") for code in order["codes"])
    assert balance_of(reseller) == "80.00"
    assert api.get("/api/v1/orders/by-client-no/", {"client_order_no": "R-1"}).json()["number"] == number
    assert api.get("/api/v1/balance/").json() == {"currency": "CNY", "balance": "80.00"}


def test_a_repeated_post_returns_the_same_order_and_charges_once(api, reseller, sku):
    body = {"sku": sku.pk, "quantity": 1, "client_order_no": "R-2"}
    first = api.post("/api/v1/orders/", body)
    again = api.post("/api/v1/orders/", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["number"] == again.json()["number"]
    assert Order.objects.filter(user=reseller).count() == 1
    assert balance_of(reseller) == "90.00"
    other = api.post("/api/v1/orders/", {**body, "quantity": 2})
    assert other.status_code == 409 and other.json()["error"]["code"] == "DUPLICATE_ORDER"


def test_insufficient_balance_changes_nothing(api_for, sku):
    poor = factories.UserFactory(email="poor@example.com")
    credit_wallet(poor, Money("5.00", "CNY"), actor=None, note="test")
    answer = api_for(poor).post("/api/v1/orders/", {"sku": sku.pk, "quantity": 1, "client_order_no": "P-1"})
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert not Order.objects.exists()
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 5
    assert balance_of(poor) == "5.00"


def test_out_of_stock_and_unknown_sku_have_their_codes(api, sku):
    answer = api.post("/api/v1/orders/", {"sku": sku.pk, "quantity": 6, "client_order_no": "R-3"})
    assert answer.json()["error"]["code"] in ("OUT_OF_STOCK", "ORDER_REFUSED")
    sku.product.max_per_order = 50
    sku.product.save(update_fields=["max_per_order"])
    answer = api.post("/api/v1/orders/", {"sku": sku.pk, "quantity": 6, "client_order_no": "R-3"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "OUT_OF_STOCK")
    answer = api.post("/api/v1/orders/", {"sku": 999999, "quantity": 1, "client_order_no": "R-4"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert not Order.objects.exists()


def test_validation_errors_name_their_fields(api, sku):
    answer = api.post("/api/v1/orders/", {"sku": "x", "quantity": 0, "client_order_no": "bad number!"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error["fields"]) == {"sku", "quantity", "client_order_no"}


def test_a_callback_into_a_private_network_is_refused(api, sku):
    body = {"sku": sku.pk, "quantity": 1, "client_order_no": "R-5", "callback_url": "http://127.0.0.1:9/hook"}
    answer = api.post("/api/v1/orders/", body)
    assert answer.status_code == 400
    assert "callback_url" in answer.json()["error"]["fields"]
    answer = api.post("/api/v1/orders/", {**body, "callback_url": "ftp://example.com/x"})
    assert "callback_url" in answer.json()["error"]["fields"]
    assert not Order.objects.exists()


def test_another_resellers_order_is_not_found(api, api_for, sku):
    number = api.post("/api/v1/orders/", {"sku": sku.pk, "quantity": 1, "client_order_no": "R-6"}).json()["number"]
    stranger = factories.UserFactory(email="stranger@example.com")
    other = api_for(stranger)
    answer = other.get(f"/api/v1/orders/{number}/")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert other.get("/api/v1/orders/by-client-no/", {"client_order_no": "R-6"}).status_code == 404


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"headers": {api_signing.SIGNATURE_HEADER: "0" * 64}}, "signature does not match"),
        ({"skew": -301}, "timestamp outside"),
        ({"skew": 301}, "timestamp outside"),
        ({"headers": {api_signing.KEY_HEADER: "ak_nobody"}}, "unknown or revoked key"),
        ({"headers": {api_signing.KEY_HEADER: None}}, "Sign the request"),
        ({"nonce": "short"}, "nonce must be"),
    ],
)
def test_a_bad_signature_is_refused(api, change, reason):
    answer = api.get("/api/v1/balance/", **change)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == "INVALID_SIGNATURE"
    assert reason in error["message"]


def test_a_tampered_body_is_refused(api, sku):
    signed_for = b'{"sku": 1, "quantity": 1, "client_order_no": "R-7"}'
    answer = api.call("POST", "/api/v1/orders/", raw=signed_for, headers=None)
    assert answer.status_code != 401  # the body as signed passes the signature
    tampered = api.call("POST", "/api/v1/orders/", raw=signed_for, headers={api_signing.SIGNATURE_HEADER: "ab" * 32})
    assert tampered.status_code == 401


def test_a_reused_nonce_is_refused(api):
    assert api.get("/api/v1/balance/", nonce="n" * 20).status_code == 200
    again = api.get("/api/v1/balance/", nonce="n" * 20)
    assert again.status_code == 401 and "nonce already used" in again.json()["error"]["message"]


def test_a_revoked_key_is_refused(api):
    from accounts.api_keys import revoke_api_key

    revoke_api_key(api.key)
    assert api.get("/api/v1/balance/").status_code == 401


def test_a_key_with_an_allow_list_works_only_from_it(api_for, reseller):
    api = api_for(reseller, allowed_ips="10.0.0.0/8")
    assert api.get("/api/v1/balance/").status_code == 401
    ApiKey.objects.filter(pk=api.key.pk).update(allowed_ips="127.0.0.1")
    assert api.get("/api/v1/balance/").status_code == 200


def test_each_key_is_rate_limited(api, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    # The rates are read once, into the class: a test's limit goes there, and monkeypatch puts it back.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    answers = [api.get("/api/v1/balance/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert api.get("/api/v1/balance/").json()["error"]["code"] == "RATE_LIMITED"


def test_refusals_outside_the_api_views_are_json_too(api, client):
    # Refused by the shop's input guard before any view: still the envelope, never a page.
    unreadable = client.get("/api/v1/products/?page=%00")
    assert (unreadable.status_code, unreadable["Content-Type"]) == (400, "application/json")
    assert unreadable.json()["error"]["code"] == "MALFORMED_REQUEST"
    missing = client.get("/api/v1/nothing-here/")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_an_unexpected_error_in_an_api_view_answers_the_json_envelope(api, monkeypatch):
    from accounts.api import BalanceView

    def broken(self, request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(BalanceView, "get", broken)
    api.client.raise_request_exception = False
    answer = api.get("/api/v1/balance/")
    assert (answer.status_code, answer.json()["error"]["code"]) == (500, "SERVER_ERROR")
