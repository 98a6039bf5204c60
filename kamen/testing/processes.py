"""Environments for the tests that start the shop in processes of its own (manage.py, gunicorn)."""

import os

# Settings those tests set themselves; whatever the developer's shell holds must not leak in.
CONTROLLED = (
    "KAMEN_ENV",
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CARD_CODE_KEYS",
    "CARD_CODE_FINGERPRINT_KEY",
    "SANDBOX_SIGNING_KEY",
    "SANDBOX_PAYMENTS_ENABLED",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "KAMEN_SECRETS_FILE",
    "STATIC_ROOT",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # lifted in a test process that drives Chromium, never for the shop
)


def uncontrolled_environ() -> dict[str, str]:
    """This process's environment without the settings the tests control."""
    return {name: value for name, value in os.environ.items() if name not in CONTROLLED}
