"""Card-code secrets at rest: Fernet encryption with rotating keys, and a keyed fingerprint.

The fingerprint (HMAC-SHA256) lets the database refuse the same code twice in one Sku without ever
holding the code in plaintext.
"""

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.CARD_CODE_KEYS])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """Re-encrypt with the newest key."""
    return _fernet().rotate(token.encode()).decode()


def fingerprint(card_no: str, secret: str) -> str:
    message = f"{card_no}\x00{secret}".encode()
    return hmac.new(settings.CARD_CODE_FINGERPRINT_KEY.encode(), message, hashlib.sha256).hexdigest()
