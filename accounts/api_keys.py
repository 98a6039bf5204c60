"""API keys: made and revoked by their member, checked on every signed /api/v1/ request."""

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kamen import api_signing

from .models import ApiKey, ApiNonce, User

MAX_KEYS_PER_MEMBER = 10


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # shown to the member once, never again


class SignatureRefused(Exception):
    """A signed request that does not check out; `reason` says which check refused it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def secret_of(key: ApiKey) -> str:
    derived = hmac.new(settings.API_KEY_SECRET.encode(), f"{key.key_id}:{key.salt}".encode(), hashlib.sha256)
    return derived.hexdigest()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def clean_networks(text: str) -> str:
    """The allow-list as one network per line, or ValidationError naming the line that is not one."""
    networks = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            networks.append(str(ipaddress.ip_network(line, strict=False)))
        except ValueError:
            raise ValidationError(_("“%(line)s” is not an IP address or network.") % {"line": line[:50]}) from None
    return "\n".join(networks)


def create_api_key(user: User, *, name: str, allowed_ips: str = "") -> NewKey:
    """A new key for `user`; the returned secret is the only time anyone sees it."""
    networks = clean_networks(allowed_ips)
    if ApiKey.objects.filter(user=user, revoked_at=None).count() >= MAX_KEYS_PER_MEMBER:
        raise ValidationError(_("You have %(n)s keys in use; revoke one first.") % {"n": MAX_KEYS_PER_MEMBER})
    key = ApiKey(user=user, name=name.strip()[:40], allowed_ips=networks)
    key.key_id = "ak_" + secrets.token_hex(12)
    key.salt = secrets.token_hex(16)
    secret = secret_of(key)
    key.secret_hash = _hash(secret)
    key.save()
    return NewKey(key=key, secret=secret)


def revoke_api_key(key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def set_allowed_ips(key: ApiKey, text: str) -> ApiKey:
    key.allowed_ips = clean_networks(text)
    key.save(update_fields=["allowed_ips"])
    return key


def check_signed_request(
    *, key_id: str, timestamp: str, nonce: str, signature: str, ip: str, now: float, **request
) -> ApiKey:
    """The key that signed a request (method, path, query, body given as `request`), after every check;
    SignatureRefused otherwise. Using the nonce is the last step, so a forged request burns none."""
    key = ApiKey.objects.select_related("user").filter(key_id=key_id).first()
    if key is None or not key.is_active or not key.user.is_active:
        raise SignatureRefused("unknown or revoked key")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > api_signing.FRESH_SECONDS:
        raise SignatureRefused("timestamp outside ±5 minutes")
    if not api_signing.NONCE_PATTERN.fullmatch(nonce):
        raise SignatureRefused("nonce must be 16 to 64 characters of A-Z a-z 0-9 _ -")
    secret = secret_of(key)
    if not hmac.compare_digest(_hash(secret), key.secret_hash):
        raise SignatureRefused("key no longer valid on this server")
    expected = api_signing.sign(secret, timestamp=timestamp, nonce=nonce, **request)
    if not api_signing.same_signature(expected, signature):
        raise SignatureRefused("signature does not match")
    if key.networks and not _allowed(ip, key.networks):
        raise SignatureRefused("address not in the key's allow-list")
    _use_nonce(key, nonce)
    _note_use(key, ip)
    return key


def _allowed(ip: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in networks)


def _use_nonce(key: ApiKey, nonce: str) -> None:
    try:
        with transaction.atomic():
            ApiNonce.objects.create(key=key, nonce=nonce)
    except IntegrityError:
        raise SignatureRefused("nonce already used") from None


def _note_use(key: ApiKey, ip: str) -> None:
    # At most one write a minute per key: a busy program's every call must not rewrite the row.
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1) or key.last_used_ip != ip:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip or None)
        key.last_used_at, key.last_used_ip = now, ip


def purge_nonces() -> int:
    """Forget nonces older than twice the freshness window: their requests are refused as stale anyway."""
    cutoff = timezone.now() - timedelta(seconds=2 * api_signing.FRESH_SECONDS)
    deleted, _ = ApiNonce.objects.filter(created_at__lt=cutoff).delete()
    return deleted
