"""The /api/v1/ OpenAPI schema: valid OpenAPI 3, shown on a docs page served from our own static files, and
true to the API, which schemathesis checks by sending it signed requests generated from the schema."""

import json
import re
import secrets
import time
from collections import Counter
from urllib.parse import unquote, urlencode

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.utils.encoding import escape_uri_path
from djmoney.money import Money
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from werkzeug.test import Client as WsgiClient

from accounts.api import BalanceView
from accounts.api_keys import create_api_key
from accounts.services import credit_wallet
from kamen import api_signing
from kamen.testing import factories

SCHEMA_URL = "/api/v1/schema/?format=json"
EXAMPLES_PER_OPERATION = 30
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_the_schema_command_finds_a_valid_schema_without_warnings(tmp_path):
    # --fail-on-warn makes any warning drf-spectacular has (an unknown field type, a guessed
    # parameter) an error; --validate checks the result against the OpenAPI 3 JSON schema.
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))
    assert json.loads(target.read_text())["openapi"].startswith("3.")


@pytest.mark.django_db
def test_the_served_schema_is_valid_openapi_json(client):
    answer = client.get(SCHEMA_URL)
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.oai.openapi+json")
    schema = answer.json()
    validate_schema(schema)  # raises on anything OpenAPI 3 does not allow
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/products/",
        "/api/v1/products/{product_id}/",
        "/api/v1/orders/",
        "/api/v1/orders/by-client-no/",
        "/api/v1/orders/{number}/",
        "/api/v1/balance/",
    }
    assert schema["components"]["securitySchemes"]["signedKey"]["name"] == api_signing.KEY_HEADER


@pytest.mark.django_db
def test_the_docs_page_uses_only_our_own_static_files(client, settings):
    answer = client.get("/api/v1/docs/")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/html")
    page = answer.content.decode()
    assert '<div id="swagger-ui">' in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page), "the docs page loads from another origin"
    assets = re.findall(r"""(?:src|href)="([^"]+)""", page)
    static = [url for url in assets if url.startswith(settings.STATIC_URL)]
    # Swagger UI's stylesheet, its two scripts and the favicon, all from drf-spectacular-sidecar.
    assert len(static) == 4, assets
    for url in static:
        assert finders.find(url.removeprefix(settings.STATIC_URL)), f"{url} is not among our static files"
    # The script that starts Swagger UI comes from the same view, so the page needs no inline script.
    [init] = [url for url in assets if not url.startswith(settings.STATIC_URL) and "script" in url]
    script = client.get(init.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in script.content.decode()
    assert "<script>" not in page
    # So the shop's own policy, scripts from 'self' only, is all the page needs.
    assert "script-src 'self'" in answer["Content-Security-Policy"]


# ---------------------------------------------------------------------------------------------------
# schemathesis against the running application
# ---------------------------------------------------------------------------------------------------


class SignedWsgi:
    """Sends a schemathesis case to the WSGI application, signed with one key exactly as it goes out:
    the path, query and body are encoded here once, then signed, then sent as they were signed."""

    PEER = {"REMOTE_ADDR": "127.0.0.1"}  # as a server sets it; werkzeug's test client sets none

    def __init__(self, application, key_id: str, secret: str) -> None:
        self.client = WsgiClient(application)
        self.key_id = key_id
        self.secret = secret

    def send(self, case):
        request = case.as_transport_kwargs()
        query = request.get("query_string") or ""
        if not isinstance(query, str):
            query = urlencode(query, doseq=True)
        headers = {name: str(value) for name, value in request.get("headers", {}).items()}
        return self.call(case.method, request["path"], query=query, body=self._body(request), headers=headers)

    def call(self, method: str, path: str, *, query: str = "", body: bytes = b"", headers: dict | None = None):
        # Django reads the percent-decoded path and the signature covers it re-encoded.
        path = escape_uri_path(unquote(path))
        timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(18)
        signature = api_signing.sign(
            self.secret, method=method, path=path, query=query, timestamp=timestamp, nonce=nonce, body=body
        )
        signed = {
            **(headers or {}),
            api_signing.KEY_HEADER: self.key_id,
            api_signing.TIMESTAMP_HEADER: timestamp,
            api_signing.NONCE_HEADER: nonce,
            api_signing.SIGNATURE_HEADER: signature,
        }
        return self.client.open(
            path=path, method=method, query_string=query, data=body, headers=signed, environ_base=self.PEER
        )

    @staticmethod
    def _body(request) -> bytes:
        if "json" in request:
            return json.dumps(request["json"]).encode()
        data = request.get("data", b"")
        return data.encode() if isinstance(data, str) else bytes(data or b"")


@pytest.fixture
def shop(db):
    """A reseller with money and a key, a product with stock, and one order placed already: generated
    requests then also reach what exists, not only 404s."""
    reseller = factories.UserFactory(email="schema@example.com")
    credit_wallet(reseller, Money("100000.00", "CNY"), actor=None, note="test")
    made = create_api_key(reseller, name="schemathesis")
    sku = factories.SkuFactory(price="1.00", product__max_per_order=10000)
    factories.stock(sku, 60)
    return {"reseller": reseller, "key": made.key, "secret": made.secret, "sku": sku}


@pytest.fixture
def api_schema(shop):
    application = get_wsgi_application()
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application)
    return schema, SignedWsgi(application, shop["key"].key_id, shop["secret"])


def known_values(shop, number: str) -> dict:
    sku = shop["sku"]
    return {"sku": sku.pk, "product_id": sku.product_id, "number": number, "client_order_no": "S-KNOWN"}


def aim_at_known(case, known: dict) -> None:
    """Point a case at objects that exist, so success paths (200/201, with codes) are checked too."""
    if case.path_parameters:
        for name in case.path_parameters:
            if name in known:
                case.path_parameters[name] = known[name]
    if isinstance(case.query, dict) and "client_order_no" in case.query:
        case.query["client_order_no"] = known["client_order_no"]
    if isinstance(case.body, dict) and "sku" in case.body:
        case.body["sku"] = known["sku"]
        case.body["quantity"] = 1
        case.body.pop("callback_url", None)  # a public callback would be looked up in the DNS


def exercise(operation, sender: SignedWsgi, known: dict, mode: schemathesis.GenerationMode) -> Counter:
    """Send the operation's generated cases, signed, and run the checks on every answer; the statuses seen."""
    sent = []

    @given(case=operation.as_strategy(generation_mode=mode), aim=st.booleans())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def send_and_check(case, aim):
        if aim and mode == schemathesis.GenerationMode.POSITIVE:
            aim_at_known(case, known)
        response = sender.send(case)
        sent.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    send_and_check()
    return Counter(sent)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_generated_signed_requests_never_meet_a_server_error(api_schema, shop, mode):
    # Checked on every answer: no 5xx; a documented status (200, 201) has the documented body and
    # content type. Refusals (400, 402, 404, 409) are not in the schema, so only the first check sees them.
    # transaction=True: Django's WSGI handler closes its connection after each request, which would end
    # the transaction a plain django_db test runs in.
    schema, sender = api_schema
    body = json.dumps({"sku": shop["sku"].pk, "quantity": 1, "client_order_no": "S-KNOWN"}).encode()
    placed = sender.call("POST", "/api/v1/orders/", body=body, headers={"Content-Type": "application/json"})
    assert placed.status_code == 201, placed.get_data()
    known = known_values(shop, placed.get_json()["number"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    for operation in operations:
        statuses = exercise(operation, sender, known, mode)
        # Every answer came from past the signature check: the signing here is right, so the checks
        # above judged the views and not only a wall of 401s.
        assert 401 not in statuses, (operation.label, statuses)
        if mode == schemathesis.GenerationMode.POSITIVE:
            assert any(200 <= status < 300 for status in statuses), (operation.label, statuses)


@pytest.mark.django_db(transaction=True)
def test_a_server_error_fails_the_check(api_schema, shop, monkeypatch):
    # given: the balance view broken, as a bug would break it
    def broken(self, request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(BalanceView, "get", broken)
    schema, sender = api_schema
    operation = schema["/api/v1/balance/"]["GET"]
    # when / then: the same driver the test above uses reports it
    with pytest.raises(FailureGroup) as failed:
        exercise(operation, sender, known_values(shop, "none"), schemathesis.GenerationMode.POSITIVE)
    assert [type(failure) for failure in failed.value.exceptions] == [ServerError]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://example.com:99999/hook", "http://example.com:port/", "http://[::1/hook"])
def test_a_callback_url_that_is_no_url_is_a_validation_error(api_for, sku, url):
    # Found by hand, not by the generated requests above: urlsplit raised ValueError on these in
    # kamen.outbound.check_public_url, and the order endpoint answered 500.
    reseller = factories.UserFactory(email="callback@example.com")
    credit_wallet(reseller, Money("100.00", "CNY"), actor=None, note="test")
    api = api_for(reseller)
    api.client.raise_request_exception = False
    body = {"sku": sku.pk, "quantity": 1, "client_order_no": "CB-1", "callback_url": url}
    answer = api.post("/api/v1/orders/", body)
    assert answer.status_code == 400
    assert "callback_url" in answer.json()["error"]["fields"]
