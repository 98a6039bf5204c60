"""Staff's second factor: TOTP authenticators (allauth.mfa) for the demo and for tests.

Staff set their own authenticator up at /accounts/2fa/ (the admin sends them there). The demo's staff
login comes with one whose secret the demo prints, so the back office can be tried at once.
"""

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value, yield_hotp_counters_from_time

# Base32, as authenticator apps take it. Only seed_demo (which refuses to run in production) uses it.
DEMO_TOTP_SECRET = "KAMENDEMOKAMENDEMOKAMENDEMOKAMEN"


def give_authenticator(user, secret: str) -> None:
    """Set up a TOTP authenticator with `secret` for `user`, unless they already have one."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, secret)


def current_code(secret: str) -> str:
    """The six digits an authenticator app shows for `secret` now."""
    counter = next(iter(yield_hotp_counters_from_time()))
    return format_hotp_value(hotp_value(secret, counter))
