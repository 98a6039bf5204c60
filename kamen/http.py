"""The shopper's address as the shop sees it, one rule for every part that needs it.

Behind a reverse proxy REMOTE_ADDR is the proxy, so every shopper would share one address: one
rate-limit bucket for the whole shop, and WeChat H5 would refuse the payer IP. allauth already reads
X-Forwarded-For counting `ALLAUTH_TRUSTED_PROXY_COUNT` proxies from the right (the entries a
client can forge are to the left of those), or a header named by `ALLAUTH_TRUSTED_CLIENT_IP_HEADER`;
our login limits use it, so the rest of the shop asks it too.
"""

import hashlib
import hmac
import ipaddress
import secrets

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's IP address; raises PermissionDenied (403) if the request carries none."""
    return get_adapter(request).get_client_ip(request)


def client_ip_or_none(request: HttpRequest) -> str | None:
    """The client's IP address for records, where an unknown address is no reason to refuse.

    A proxy count larger than the proxies really there (ImproperlyConfigured) must not cost a
    payment notification its record either.
    """
    try:
        return client_ip(request)
    except (PermissionDenied, ImproperlyConfigured):
        return None


# Headers a reverse proxy adds; a request that carries one came from further away than the proxy.
FORWARDING_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_X_REAL_IP")


def is_loopback_request(request: HttpRequest) -> bool:
    """Whether the request was made on this machine, straight to the server and not through a proxy.

    REMOTE_ADDR is the peer of the server's own socket, which no client can choose. The Host the
    request named has already passed ALLOWED_HOSTS.
    """
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if peer.version == 6 and peer.ipv4_mapped:
        peer = peer.ipv4_mapped
    return peer.is_loopback and not any(request.META.get(header) for header in FORWARDING_HEADERS)


# The device cookie (set by distribution's DeviceCookieMiddleware): one browser told from another, for
# the invite abuse checks and for the risk rules of checkout.
DEVICE_COOKIE = "kamen_device"
DEVICE_COOKIE_AGE = 2 * 365 * 24 * 3600


def device_id(request: HttpRequest) -> str:
    """This browser's device id: its cookie, or a new one the middleware sets on the response."""
    value = request.COOKIES.get(DEVICE_COOKIE, "")
    if not (16 <= len(value) <= 64 and value.isascii()):
        value = getattr(request, "_kamen_new_device", "") or secrets.token_urlsafe(24)
        request._kamen_new_device = value
    return value


def device_fingerprint(cookie_value: str) -> str:
    """The device cookie as stored: a keyed hash, so the table holds nothing a browser could replay."""
    if not cookie_value:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), cookie_value[:100].encode(), hashlib.sha256).hexdigest()
