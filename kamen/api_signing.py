"""The signature of the /api/v1/ protocol, one module for both ends: the server checks requests with
it, `kamen.client` signs them, and webhooks to a caller are signed the same way.

A request carries four headers. The signature is HMAC-SHA256, in lower-case hex, keyed by the API
secret, over six lines joined by "\\n":

    METHOD            upper case: GET, POST
    path              as sent, percent-encoded: /api/v1/orders/
    canonical query   the query parameters sorted by name then value, percent-encoded, joined by &
    timestamp         Unix seconds, within ±5 minutes of the server's clock
    nonce             16 to 64 characters of [A-Za-z0-9_-], never used twice with one key
    body hash         SHA-256 of the body bytes, hex (of nothing for a GET)

A webhook is signed over its timestamp and body: HMAC-SHA256(secret, f"{timestamp}.{body}").
"""

import hashlib
import hmac
import re
from urllib.parse import parse_qsl, quote, urlencode

KEY_HEADER = "X-Kamen-Key"
TIMESTAMP_HEADER = "X-Kamen-Timestamp"
NONCE_HEADER = "X-Kamen-Nonce"
SIGNATURE_HEADER = "X-Kamen-Signature"
WEBHOOK_EVENT_HEADER = "X-Kamen-Event"

FRESH_SECONDS = 300
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def canonical_query(query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return urlencode(pairs, quote_via=quote, safe="-_.~")


def string_to_sign(*, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> str:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, canonical_query(query), timestamp, nonce, body_hash])


def sign(secret: str, **request) -> str:
    """The signature of one request: keyword arguments as for `string_to_sign`."""
    message = string_to_sign(**request).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_webhook(secret: str, *, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def same_signature(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
