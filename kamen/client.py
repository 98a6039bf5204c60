"""A small client for the /api/v1/ API of a kamen shop: what a reseller's program (and our own `kamen`
supplier adapter) uses to buy from one.

    client = KamenClient("https://shop.example", key="ak_…", secret="…")
    order = client.create_order(sku=12, quantity=1, client_order_no="A-1001")
    client.order(order["number"])["codes"]

Answers are the API's JSON as dicts. An error the shop answered is `ApiError` with its stable code
(`INSUFFICIENT_BALANCE`, `OUT_OF_STOCK`, ...); a call that may not have reached the shop, or that it
could not answer now (a timeout, a refused connection, a 5xx, rate limiting), is `ApiUnavailable`: a
caller retries those, and resolves an order whose answer it never saw by asking for it by its own
number, never by ordering again.
"""

import json
import secrets
import time
from urllib.parse import urlencode, urlsplit

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from . import api_signing


class ApiError(Exception):
    """The shop refused the request: `code` is one of the API's stable error codes."""

    def __init__(self, code: str, message: str, *, status: int, fields: dict | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields or {}


class ApiUnavailable(Exception):
    """The call failed in a way that may pass: it is safe to ask again. `sent` is False when the
    request surely never reached the shop (nothing it asked for can have happened)."""

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


def _never_sent(error: requests.RequestException) -> bool:
    # A connect timeout, a refused connection or an unknown name: the request was never written.
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError) or isinstance(error, requests.ReadTimeout):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)


class KamenClient:
    def __init__(self, base_url: str, *, key: str, secret: str, timeout: float = 10.0, session=None) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.secret = secret
        self.timeout = timeout
        self.session = session or requests.Session()

    def products(self, *, page: int = 1) -> dict:
        return self._call("GET", "/api/v1/products/", query={"page": page})

    def product(self, product_id: int) -> dict:
        return self._call("GET", f"/api/v1/products/{int(product_id)}/")

    def create_order(
        self,
        *,
        sku: int,
        quantity: int,
        client_order_no: str,
        callback_url: str = "",
        buyer_input: dict[str, str] | None = None,
    ) -> dict:
        body = {"sku": sku, "quantity": quantity, "client_order_no": client_order_no}
        if callback_url:
            body["callback_url"] = callback_url
        if buyer_input:
            body["buyer_input"] = buyer_input
        return self._call("POST", "/api/v1/orders/", body=body)

    def order(self, number: str) -> dict:
        return self._call("GET", f"/api/v1/orders/{number}/")

    def order_by_client_no(self, client_order_no: str) -> dict:
        return self._call("GET", "/api/v1/orders/by-client-no/", query={"client_order_no": client_order_no})

    def balance(self) -> dict:
        return self._call("GET", "/api/v1/balance/")

    def _call(self, method: str, path: str, *, query: dict | None = None, body: dict | None = None) -> dict:
        query_string = urlencode(query or {})
        payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        headers = self.signed_headers(method, path, query_string, payload)
        if body is not None:
            headers["Content-Type"] = "application/json"
        url = self.base_url + path + (f"?{query_string}" if query_string else "")
        try:
            response = self.session.request(method, url, data=payload or None, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise ApiUnavailable(f"{method} {path}: {error}", sent=not _never_sent(error)) from error
        return self._answer(response)

    def signed_headers(self, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = secrets.token_urlsafe(18)
        full_path = urlsplit(self.base_url).path.rstrip("/") + path
        signature = api_signing.sign(
            self.secret, method=method, path=full_path, query=query, timestamp=timestamp, nonce=nonce, body=body
        )
        return {
            api_signing.KEY_HEADER: self.key,
            api_signing.TIMESTAMP_HEADER: timestamp,
            api_signing.NONCE_HEADER: nonce,
            api_signing.SIGNATURE_HEADER: signature,
        }

    @staticmethod
    def _answer(response) -> dict:
        if response.status_code == 429:  # refused before anything was done
            raise ApiUnavailable("HTTP 429: rate limited", sent=False)
        if response.status_code >= 500:
            raise ApiUnavailable(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise ApiUnavailable(f"HTTP {response.status_code}: not JSON") from None
        if response.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise ApiError(
                str(error.get("code", "UNKNOWN")),
                str(error.get("message", "")),
                status=response.status_code,
                fields=error.get("fields"),
            )
        return data


def verify_webhook(secret: str, *, headers, body: bytes, now: float | None = None) -> dict:
    """The event of a webhook the shop sent, once its signature and timestamp check out; else ValueError."""
    timestamp = headers.get(api_signing.TIMESTAMP_HEADER, "")
    signature = headers.get(api_signing.SIGNATURE_HEADER, "")
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > api_signing.FRESH_SECONDS:
        raise ValueError("stale or missing timestamp")
    expected = api_signing.sign_webhook(secret, timestamp=timestamp, body=body)
    if not api_signing.same_signature(expected, signature):
        raise ValueError("bad signature")
    return json.loads(body)
