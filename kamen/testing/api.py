"""Signed /api/v1/ requests through Django's test client, the way kamen.client signs them over HTTP."""

import json
import secrets
import time
from urllib.parse import urlencode

import pytest
from django.test import Client

from kamen import api_signing


class SignedApi:
    """Calls the API as the holder of one key; `skew` moves the timestamp by seconds, `headers` overrides or
    drops (None) a signed header."""

    def __init__(self, key, secret: str) -> None:
        self.key = key
        self.secret = secret
        self.client = Client()

    def get(self, path: str, query: dict | None = None, **options):
        return self.call("GET", path, query=query, **options)

    def post(self, path: str, body=None, **options):
        return self.call("POST", path, body=body, **options)

    def call(self, method, path, *, query=None, body=None, skew=0, nonce=None, headers=None, raw=None):
        query_string = urlencode(query or {})
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        timestamp = str(int(time.time()) + skew)
        nonce = nonce or secrets.token_urlsafe(18)
        signed = {
            api_signing.KEY_HEADER: self.key.key_id,
            api_signing.TIMESTAMP_HEADER: timestamp,
            api_signing.NONCE_HEADER: nonce,
            api_signing.SIGNATURE_HEADER: api_signing.sign(
                self.secret,
                method=method,
                path=path,
                query=query_string,
                timestamp=timestamp,
                nonce=nonce,
                body=payload,
            ),
        }
        for name, value in (headers or {}).items():
            if value is None:
                signed.pop(name, None)
            else:
                signed[name] = value
        url = path + (f"?{query_string}" if query_string else "")
        return self.client.generic(method, url, payload, content_type="application/json", headers=signed)


@pytest.fixture
def api_for():
    """`api_for(user)`: a SignedApi with a new key of `user`."""
    from accounts.api_keys import create_api_key

    def make(user, **options) -> SignedApi:
        made = create_api_key(user, name="test", **options)
        return SignedApi(made.key, made.secret)

    return make
