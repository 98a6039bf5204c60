"""A second kamen shop in processes of its own (migrate, then gunicorn) on loopback: the upstream
supplier of the shop under test, reached through its /api/v1/ like any reseller's program."""

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .database import copy_of_migrated_database, drop_database
from .processes import uncontrolled_environ

ROOT = Path(__file__).resolve().parents[2]
# The upstream's goods and the reseller account the shop under test buys with.
PREPARE = """
import json
from djmoney.money import Money
from accounts.api_keys import create_api_key
from accounts.services import credit_wallet
from kamen.testing import factories
sku = factories.SkuFactory(price="8.00", product__title="网易一卡通", name="30元")
factories.stock(sku, 5, prefix="UP")
reseller = factories.UserFactory(email="downstream@example.com")
credit_wallet(reseller, Money("100.00", "CNY"), actor=None, note="prepaid")
made = create_api_key(reseller, name="downstream shop")
print(json.dumps({"sku": sku.pk, "key": made.key.key_id, "secret": made.secret}))
"""


@dataclass
class UpstreamShop:
    url: str
    sku: int
    key: str
    secret: str
    process: subprocess.Popen
    env: dict
    database: str | None = None

    def manage(self, *args: str) -> str:
        return _manage(self.env, *args)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.database is not None:
            drop_database(self.database)


def _manage(env: dict, *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_upstream_shop(home: Path) -> UpstreamShop:
    port = _free_port()
    env = uncontrolled_environ()
    # Its own database: a copy of this run's migrated one where there is one, else SQLite, migrated.
    database = f"kamen_upstream_{port}"
    database_url = copy_of_migrated_database(database)
    env.update(
        DATABASE_URL=database_url or f"sqlite:///{home / 'upstream.sqlite3'}",
        KAMEN_SECRETS_FILE=str(home / "upstream-secrets.env"),
        SITE_URL=f"http://127.0.0.1:{port}",
        # Its webhooks go to the shop under test, on loopback.
        API_CALLBACKS_TO_PRIVATE_ADDRESSES="true",
    )
    env.pop("REDIS_URL", None)  # embedded: its delivery runs inside the API request
    if database_url is None:
        database = None
        _manage(env, "migrate", "--noinput", "-v", "0")
    prepared = json.loads(_manage(env, "shell", "-c", PREPARE).strip().splitlines()[-1])
    process = subprocess.Popen(  # noqa: S603 - our own gunicorn
        [sys.executable, "-m", "gunicorn", "kamen.wsgi:application", f"--bind=127.0.0.1:{port}", "--workers=2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            requests.get(url + "/health/", timeout=5)
            break
        except requests.RequestException:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("the upstream shop did not come up")
    return UpstreamShop(url=url, process=process, env=env, database=database, **prepared)
