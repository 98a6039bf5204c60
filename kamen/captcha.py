"""A self-hosted proof-of-work check (人机验证) that needs no third-party service.

The server hands out a signed challenge: a random nonce, a difficulty in bits and an expiry, with an
HMAC keyed by SECRET_KEY. The browser (static/js/pow.js) finds a counter such that
sha256(nonce + counter) starts with that many zero bits, and sends "challenge:counter" back. The
server checks the signature, the purpose, the expiry, the work, and that the challenge was not used
before. Cheap for one shopper, costly for a bot that signs up or guesses passwords by the thousand.

It is asked only of an address that has been busy (CAPTCHA_AFTER attempts of a kind within
CAPTCHA_WINDOW_SECONDS), counted in the cache.

When the cache fails (kamen.cache already answers from process memory while Redis is down, so this
is for whatever else breaks), the check is asked for: a count that cannot be read may be an attack
under way, and asking costs an honest shopper a moment of their browser's time rather than a page.
A solved challenge whose single use cannot be recorded is still accepted: its signature, work and
short life still bound what a replay can win, and refusing it would lock everyone out.
"""

import hashlib
import ipaddress
import logging
import secrets
import time

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.templatetags.static import static
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("kamen")

LOGIN = "login"
SIGNUP = "signup"
CHECKOUT = "checkout"
FIELD = "captcha"
# Longer than any answer we issue (nonce, bits, expiry, scope, signature, counter); anything longer is junk.
MAX_ANSWER_LENGTH = 200
MAX_COUNTER_DIGITS = 12


def issue(scope: str) -> str:
    """A new signed challenge for `scope`: "nonce.bits.expires.scope.signature"."""
    payload = f"{secrets.token_hex(16)}.{settings.CAPTCHA_BITS}.{int(time.time()) + settings.CAPTCHA_TTL_SECONDS}"
    payload = f"{payload}.{scope}"
    return f"{payload}.{_signature(payload)}"


def _signature(payload: str) -> str:
    return salted_hmac("kamen.captcha", payload, algorithm="sha256").hexdigest()


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def verify(scope: str, answer: str) -> bool:
    """Whether `answer` ("challenge:counter") solves a challenge we issued for `scope`, still fresh and
    never used before. Using it here uses it up."""
    if not answer or len(answer) > MAX_ANSWER_LENGTH or not answer.isascii():
        return False
    challenge, _sep, counter = answer.rpartition(":")
    parts = challenge.split(".")
    if len(parts) != 5 or not (counter.isdigit() and len(counter) <= MAX_COUNTER_DIGITS):
        return False
    nonce, bits, expires, issued_for, signature = parts
    if not (bits.isdigit() and expires.isdigit()):
        return False
    if not constant_time_compare(signature, _signature(challenge.rpartition(".")[0])):
        return False
    remaining = int(expires) - int(time.time())
    if issued_for != scope or remaining <= 0:
        return False
    if leading_zero_bits(hashlib.sha256(f"{nonce}{counter}".encode()).digest()) < int(bits):
        return False
    return _use_up(nonce, seconds=remaining)


def _use_up(nonce: str, *, seconds: int) -> bool:
    try:
        return bool(cache.add(f"captcha:used:{nonce}", 1, timeout=seconds + 1))
    except Exception:  # any cache backend's failure: see the module docstring
        logger.warning("captcha: cannot record a used challenge; accepting it", exc_info=True)
        return True


def _counter_key(scope: str, ip: str) -> str:
    # One IPv6 subscriber holds a whole /64: counting single addresses there would count nothing.
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return f"captcha:n:{scope}:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"captcha:n:{scope}:{address}"


def count_attempt(scope: str, ip: str | None) -> None:
    """Count one attempt of `scope` (a failed login, a sign-up, a guest checkout) from `ip`."""
    if not ip:
        return
    key = _counter_key(scope, ip)
    try:
        if not cache.add(key, 1, timeout=settings.CAPTCHA_WINDOW_SECONDS):
            cache.incr(key)
    except ValueError:  # the count expired between add and incr: this attempt starts a new one
        cache.add(key, 1, timeout=settings.CAPTCHA_WINDOW_SECONDS)
    except Exception:
        logger.warning("captcha: cannot count an attempt", exc_info=True)


def is_required(scope: str, ip: str | None) -> bool:
    """Whether the next attempt of `scope` from `ip` must solve a challenge first."""
    if not ip:
        return True  # an address we cannot tell is one we cannot count
    try:
        attempts = cache.get(_counter_key(scope, ip), 0)
    except Exception:
        logger.warning("captcha: cannot read the count; asking for the check", exc_info=True)
        return True
    return attempts >= settings.CAPTCHA_AFTER[scope]


class ProofOfWorkWidget(forms.Widget):
    """A fresh challenge each time it is drawn, solved by static/js/pow.js into the hidden input."""

    def __init__(self, scope: str):
        super().__init__()
        self.scope = scope

    def render(self, name, value, attrs=None, renderer=None):
        return format_html(
            '<div class="pow-check" data-pow-challenge="{}" data-pow-done="{}">'
            '<input type="hidden" name="{}" value="" data-pow-answer>'
            '<p class="pow-status" data-pow-status aria-live="polite">{}</p>'
            '<noscript><p class="field-error">{}</p></noscript></div>'
            '<script src="{}" defer></script>',
            issue(self.scope),
            _("Check complete."),
            name,
            _("Checking your browser… this takes a moment."),
            _(
                "This security check needs JavaScript. Turn JavaScript on and reload the page, "
                "or come back in a few minutes."
            ),
            static("js/pow.js"),
        )

    def value_from_datadict(self, data, files, name):
        return data.get(name, "")


class ProofOfWorkField(forms.CharField):
    """The check as a form field: valid only with a solved, fresh, unused challenge of its scope."""

    def __init__(self, scope: str, **kwargs):
        self.scope = scope
        kwargs.setdefault("label", _("Security check"))
        super().__init__(widget=ProofOfWorkWidget(scope), required=False, max_length=MAX_ANSWER_LENGTH, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            raise forms.ValidationError(
                _(
                    "Many attempts came from your network just now: wait for the security check below to "
                    "finish, then send again."
                ),
                code="captcha_needed",
            )
        if not verify(self.scope, value):
            raise forms.ValidationError(
                _("The security check expired or was already used. A new one is running: send again when it is done."),
                code="captcha_failed",
            )
        return value


class CaptchaFormMixin:
    """For forms that ask for the check only when their address has been busy."""

    def ask_captcha(self, scope: str) -> None:
        self.fields[FIELD] = ProofOfWorkField(scope)

    @property
    def asks_captcha(self) -> bool:
        return FIELD in self.fields
