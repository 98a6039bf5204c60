"""What an unauthenticated notify URL takes in, and from whom.

Anyone can post to /payments/<provider>/notify/, and every notification is recorded. Three bounds
keep that from becoming free storage for strangers:

- A body larger than PAYMENT_NOTIFICATION_MAX_BYTES is refused from its Content-Length, before it
  is read: gateways' real notifications are a few KB.
- What fails verification is kept as a bounded prefix (enough for staff to see what it was); a
  verified notification is evidence of money and is stored whole.
- Rejections are counted per source address (the shop's client address, kamen.http); past
  PAYMENT_NOTIFICATION_REJECTED_RATE a source's further rejections are answered but not stored.

Only rejections count, never notifications as such: a gateway re-sends each valid notification
until it hears "success", and during a sale it sends hundreds a second from a handful of
addresses. Counting those would let the shop's own gateway trip the limit. And a source over its
limit is still verified: a valid notification from it is accepted as from anyone, so a flood of
forgeries from an address the gateway shares (a proxy counted wrong, a NAT) can delay no payment.
"""

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from kamen.http import client_ip_or_none

REJECTED_GROUP = "payments.notifications.rejected"
REJECTED_BODY_PREFIX_CHARS = 2048
REJECTED_HEADER_COUNT = 40
REJECTED_HEADER_CHARS = 256


def declared_size(request: HttpRequest) -> int:
    """The body size the client announces; Django never reads more than this."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def max_bytes() -> int:
    return settings.PAYMENT_NOTIFICATION_MAX_BYTES


def is_oversized(request: HttpRequest) -> bool:
    return declared_size(request) > max_bytes()


def _source(group: str, request: HttpRequest) -> str:
    return client_ip_or_none(request) or "unknown"


def _rejections(request: HttpRequest, *, increment: bool) -> dict:
    return get_usage(
        request,
        group=REJECTED_GROUP,
        key=_source,
        rate=settings.PAYMENT_NOTIFICATION_REJECTED_RATE,
        increment=increment,
    )


def count_rejection(request: HttpRequest) -> bool:
    """Count one more rejection from this source; whether it had already sent as many as the window
    allows. Only rejections ask: a valid notification costs the rate limit nothing."""
    usage = _rejections(request, increment=True)
    return usage is not None and usage["count"] > usage["limit"]


def storable(text: str) -> str:
    # PostgreSQL cannot store NUL in text; the record keeps the rest of what came.
    return text.replace("\x00", "\ufffd")


def rejected_body(body: str) -> str:
    return body[:REJECTED_BODY_PREFIX_CHARS]


def rejected_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name[:REJECTED_HEADER_CHARS]: value[:REJECTED_HEADER_CHARS]
        for name, value in list(headers.items())[:REJECTED_HEADER_COUNT]
    }
