"""Guest lookup passwords, stored as a keyed hash (HMAC-SHA256 with a key derived from SECRET_KEY).

A lookup password is a second factor beside an unguessable order number, behind a rate-limited
lookup; it protects one order, not an account, and is typed once. A slow password hash buys nothing
an attacker with only the database lacks (without the server's secret, every guess is blind), and
cost every guest checkout 17 ms of CPU during a sale. Each hash has its own salt, so equal
passwords do not show as equal; keys retired into SECRET_KEY_FALLBACKS still verify. Orders placed
when lookup passwords were hashed with Argon2 verify as they always did.
"""

import hmac

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher, check_password, make_password
from django.utils.crypto import get_random_string, salted_hmac
from django.utils.module_loading import import_string

KEY_SALT = "kamen.orders.lookup-password"


class KeyedLookupPasswordHasher(BasePasswordHasher):
    algorithm = "lookup_hmac_sha256"

    def salt(self) -> str:
        return get_random_string(16)

    def encode(self, password: str, salt: str) -> str:
        return f"{self.algorithm}${salt}${self._digest(password, salt, settings.SECRET_KEY)}"

    def verify(self, password: str, encoded: str) -> bool:
        algorithm, salt, digest = encoded.split("$", 2)
        secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        matches = [hmac.compare_digest(self._digest(password, salt, secret), digest) for secret in secrets]
        return algorithm == self.algorithm and any(matches)

    def decode(self, encoded: str) -> dict:
        algorithm, salt, digest = encoded.split("$", 2)
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {"algorithm": decoded["algorithm"], "salt": decoded["salt"][:4] + "…", "hash": decoded["hash"][:6] + "…"}

    def must_update(self, encoded: str) -> bool:
        return False

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass

    @staticmethod
    def _digest(password: str, salt: str, secret: str) -> str:
        return salted_hmac(KEY_SALT, f"{salt}${password}", secret=secret, algorithm="sha256").hexdigest()


def hash_lookup_password(raw: str) -> str:
    """What an order stores for `raw` (settings.LOOKUP_PASSWORD_HASHER); "" for no password."""
    return make_password(raw, hasher=import_string(settings.LOOKUP_PASSWORD_HASHER)()) if raw else ""


def check_lookup_password(raw: str, encoded: str) -> bool:
    if not encoded:
        return False
    if encoded.startswith(KeyedLookupPasswordHasher.algorithm + "$"):
        return KeyedLookupPasswordHasher().verify(raw, encoded)
    return check_password(raw, encoded)  # an earlier order's Argon2 hash
