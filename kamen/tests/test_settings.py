"""Safe by default: what the settings make of the environment (their module run afresh, or a `manage.py` process).

Production refuses to start without its secrets, with a malformed card-code key or a wildcard host,
and passes `check --deploy`. Without KAMEN_ENV the shop is safe as well: DEBUG off, loopback host
names only, keys made at random once and kept in a local file, the sandbox only on loopback.
"""

import os
import runpy
import stat
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from cryptography.fernet import Fernet

from kamen.testing.processes import uncontrolled_environ

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "KAMEN_ENV": "production",
    "SECRET_KEY": "x" * 20 + Fernet.generate_key().decode(),
    "DATABASE_URL": "postgres://kamen@127.0.0.1:5432/kamen",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CARD_CODE_KEYS": Fernet.generate_key().decode(),
    "CARD_CODE_FINGERPRINT_KEY": "fingerprint-key-" + "y" * 32,
    "ALLOWED_HOSTS": "shop.example.com",
    "SITE_URL": "https://shop.example.com",
}
# The constant every checkout of the code used to run with when nothing was configured.
OLD_BUILT_IN_SECRET_KEY = "django-insecure-kamen-embedded-development-key-change-me"


@pytest.fixture
def secrets_file(tmp_path):
    return tmp_path / "local-secrets.env"


@pytest.fixture
def manage(secrets_file):
    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        base = uncontrolled_environ()
        base["KAMEN_SECRETS_FILE"] = str(secrets_file)
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture
def settings_of(secrets_file):
    """The named settings as the settings module makes them of the environment `env`.

    The module's file is run afresh (runpy) with the environment a new process would have: the
    developer's shell minus what the tests control, plus `env`. It reads only the environment and
    the secrets file, so that is all a new process would see; running it here takes a millisecond.
    """

    def read(*names: str, **env: str) -> dict:
        base = uncontrolled_environ()
        base["KAMEN_SECRETS_FILE"] = str(secrets_file)
        with mock.patch.dict(os.environ, {**base, **env}, clear=True):
            namespace = runpy.run_path(str(ROOT / "kamen" / "settings.py"))
        return {name: str(namespace[name]) for name in names}

    return read


# ---------------------------------------------------------------------------------------------------
# Production
# ---------------------------------------------------------------------------------------------------
def test_production_refuses_to_start_without_its_secrets(manage):
    result = manage("check", KAMEN_ENV="production")

    assert result.returncode != 0
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CARD_CODE_KEYS", "CARD_CODE_FINGERPRINT_KEY"):
        assert name in result.stderr
    assert "ALLOWED_HOSTS" in result.stderr and "SITE_URL" in result.stderr


def test_production_passes_the_deploy_check_without_a_warning(manage):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_never_writes_a_secrets_file(manage, secrets_file):
    assert manage("check", **PRODUCTION).returncode == 0

    assert not secrets_file.exists()


def test_production_turns_the_sandbox_off(settings_of):
    seen = settings_of("SANDBOX_PAYMENTS_ENABLED", "PAYMENT_PROVIDERS", **PRODUCTION, SANDBOX_PAYMENTS_ENABLED="true")

    assert seen["SANDBOX_PAYMENTS_ENABLED"] == "False" and "sandbox" not in seen["PAYMENT_PROVIDERS"]


# A fixed valid key before the typo, so every test process collects the same test ids.
@pytest.mark.parametrize("keys", ["not-a-fernet-key", "c2hvcnQ=", f"{'A' * 43}=,typo"])
def test_production_refuses_a_card_code_key_that_is_not_a_fernet_key(manage, keys):
    result = manage("check", **{**PRODUCTION, "CARD_CODE_KEYS": keys})

    assert result.returncode != 0
    assert "CARD_CODE_KEYS" in result.stderr and "Fernet" in result.stderr


def test_production_refuses_a_wildcard_host(manage):
    result = manage("check", **{**PRODUCTION, "ALLOWED_HOSTS": "shop.example.com,*"})

    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_production_refuses_debug(manage):
    result = manage("check", **PRODUCTION, DEBUG="true")

    assert result.returncode != 0 and "DEBUG" in result.stderr


# ---------------------------------------------------------------------------------------------------
# KAMEN_ENV unset: the README's embedded and PostgreSQL + gunicorn recipes
# ---------------------------------------------------------------------------------------------------
def test_without_kamen_env_debug_is_off_and_only_loopback_names_are_served(settings_of):
    seen = settings_of("DEBUG", "ALLOWED_HOSTS")

    assert seen["DEBUG"] == "False"
    assert seen["ALLOWED_HOSTS"] == str(["localhost", "127.0.0.1", "[::1]"])


def test_the_host_of_site_url_is_served_and_its_origin_trusted_for_forms(settings_of):
    seen = settings_of("ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", SITE_URL="https://shop.example.com")

    assert seen["ALLOWED_HOSTS"] == str(["localhost", "127.0.0.1", "[::1]", "shop.example.com"])
    assert seen["CSRF_TRUSTED_ORIGINS"] == str(["https://shop.example.com"])


def test_debug_is_on_only_when_asked_for(settings_of):
    assert settings_of("DEBUG", DEBUG="true")["DEBUG"] == "True"


def test_a_wildcard_host_is_refused_outside_debug(manage, settings_of):
    result = manage("check", ALLOWED_HOSTS="*")

    assert result.returncode != 0 and "ALLOWED_HOSTS" in result.stderr
    assert settings_of("ALLOWED_HOSTS", ALLOWED_HOSTS="*", DEBUG="true")["ALLOWED_HOSTS"] == "['*']"


def test_a_card_code_key_that_is_not_a_fernet_key_is_refused_everywhere(manage):
    result = manage("check", CARD_CODE_KEYS="my-card-key")

    assert result.returncode != 0 and "CARD_CODE_KEYS" in result.stderr


def test_unset_secrets_are_made_at_random_and_kept_in_a_private_file(settings_of, secrets_file, tmp_path):
    names = ("SECRET_KEY", "CARD_CODE_KEYS", "CARD_CODE_FINGERPRINT_KEY", "SANDBOX_SIGNING_KEY")

    first = settings_of(*names)
    again = settings_of(*names)
    elsewhere = settings_of(*names, KAMEN_SECRETS_FILE=str(tmp_path / "another-checkout.env"))

    assert first == again  # made once, then reused
    assert all(first[name] != elsewhere[name] for name in names)  # random, not derived from the code
    assert first["SECRET_KEY"] != OLD_BUILT_IN_SECRET_KEY and len(first["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert f"SANDBOX_SIGNING_KEY={first['SANDBOX_SIGNING_KEY']}" in secrets_file.read_text()


def test_a_card_code_encrypted_in_one_run_decrypts_in_the_next(manage):
    encrypt = manage("shell", "-c", "from catalog import crypto; print(crypto.encrypt('QB-0001 8812'))")
    token = encrypt.stdout.strip().splitlines()[-1]

    decrypt = manage("shell", "-c", f"from catalog import crypto; print(crypto.decrypt({token!r}))")

    assert decrypt.returncode == 0, decrypt.stderr
    assert decrypt.stdout.strip().splitlines()[-1] == "QB-0001 8812"


def test_secrets_set_in_the_environment_win_and_need_no_file(settings_of, secrets_file):
    keys = {
        "SECRET_KEY": "s" * 60,
        "CARD_CODE_KEYS": Fernet.generate_key().decode(),
        "CARD_CODE_FINGERPRINT_KEY": "f" * 40,
        "SANDBOX_SIGNING_KEY": "k" * 40,
    }

    seen = settings_of("SECRET_KEY", "CARD_CODE_KEYS", "SANDBOX_SIGNING_KEY", **keys)

    assert seen["SECRET_KEY"] == keys["SECRET_KEY"] and keys["CARD_CODE_KEYS"] in seen["CARD_CODE_KEYS"]
    assert seen["SANDBOX_SIGNING_KEY"] == keys["SANDBOX_SIGNING_KEY"]
    assert not secrets_file.exists()


# ---------------------------------------------------------------------------------------------------
# The sandbox: on loopback, or when switched on
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "enabled", "loopback_only"),
    [
        ({}, "True", "True"),  # make run on 127.0.0.1
        ({"SITE_URL": "http://localhost:8123", "ALLOWED_HOSTS": "localhost"}, "True", "True"),
        ({"SITE_URL": "http://0.0.0.0:8000"}, "False", "True"),  # make run HOST=0.0.0.0
        ({"SITE_URL": "https://shop.example.com"}, "False", "True"),
        ({"ALLOWED_HOSTS": "127.0.0.1,192.0.2.10"}, "False", "True"),
        ({"ALLOWED_HOSTS": "shop.example.com", "SANDBOX_PAYMENTS_ENABLED": "true"}, "True", "False"),
        ({"SANDBOX_PAYMENTS_ENABLED": "false"}, "False", "False"),
    ],
)
def test_the_sandbox_is_on_only_on_loopback_unless_switched_on(settings_of, env, enabled, loopback_only):
    seen = settings_of("SANDBOX_PAYMENTS_ENABLED", "SANDBOX_PAYMENTS_LOOPBACK_ONLY", **env)

    assert (seen["SANDBOX_PAYMENTS_ENABLED"], seen["SANDBOX_PAYMENTS_LOOPBACK_ONLY"]) == (enabled, loopback_only)


def test_the_replica_and_its_router_exist_only_when_configured(settings_of):
    plain = settings_of("DATABASES")
    configured = settings_of(
        "DATABASES",
        "DATABASE_ROUTERS",
        DATABASE_URL="postgres://kamen@db1:5432/kamen",
        DATABASE_REPLICA_URL="postgres://kamen@db2:5432/kamen",
    )

    assert "'replica'" not in plain["DATABASES"]
    assert "'HOST': 'db2'" in configured["DATABASES"] and "'MIRROR': 'default'" in configured["DATABASES"]
    assert configured["DATABASE_ROUTERS"] == "['kamen.db_router.CatalogReplicaRouter']"
