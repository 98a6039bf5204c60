"""Production refuses to start without its secrets and passes `check --deploy` with them."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "KAMEN_ENV")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_its_secrets():
    result = manage("check", KAMEN_ENV="production")

    assert result.returncode != 0
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CARD_CODE_KEYS", "CARD_CODE_FINGERPRINT_KEY"):
        assert name in result.stderr


def test_production_passes_the_deploy_check_without_a_warning():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        KAMEN_ENV="production",
        SECRET_KEY="x" * 20 + Fernet.generate_key().decode(),
        DATABASE_URL="postgres://kamen@127.0.0.1:5432/kamen",
        REDIS_URL="redis://127.0.0.1:6379/0",
        CARD_CODE_KEYS=Fernet.generate_key().decode(),
        CARD_CODE_FINGERPRINT_KEY="fingerprint-key-" + "y" * 32,
        ALLOWED_HOSTS="shop.example.com",
    )

    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_turns_the_sandbox_off():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SANDBOX_PAYMENTS_ENABLED, settings.PAYMENT_PROVIDERS)",
        KAMEN_ENV="production",
        SANDBOX_PAYMENTS_ENABLED="true",
        SECRET_KEY="x" * 60,
        DATABASE_URL="postgres://kamen@127.0.0.1:5432/kamen",
        REDIS_URL="redis://127.0.0.1:6379/0",
        CARD_CODE_KEYS=Fernet.generate_key().decode(),
        CARD_CODE_FINGERPRINT_KEY="f" * 40,
    )

    assert result.returncode == 0, result.stderr
    assert "False [" in result.stdout and "sandbox" not in result.stdout
