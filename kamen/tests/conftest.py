"""The prepared shop that the tests of a served kamen (gunicorn, nginx) share."""

import subprocess
import sys
from pathlib import Path

import pytest

from kamen.testing.processes import uncontrolled_environ

ROOT = Path(__file__).resolve().parents[2]
MAKE_A_PRODUCT = """
from kamen.testing import factories
sku = factories.SkuFactory(price="10.00", product__title="腾讯Q币卡")
factories.stock(sku, 3)
print(sku.product.pk, sku.pk)
"""


@pytest.fixture(scope="session")
def shop_files(tmp_path_factory):
    """A migrated SQLite shop with one product, its own secrets file and collected static files."""
    home = tmp_path_factory.mktemp("unconfigured-shop")
    env = uncontrolled_environ()
    env.update(
        DATABASE_URL=f"sqlite:///{home / 'db.sqlite3'}",
        KAMEN_SECRETS_FILE=str(home / "local-secrets.env"),
        STATIC_ROOT=str(home / "static"),
    )

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    manage("collectstatic", "--noinput", "-v", "0")
    product_id, sku_id = manage("shell", "-c", MAKE_A_PRODUCT).split()[-2:]
    return {"env": env, "manage": manage, "product": f"/p/{product_id}/", "sku": sku_id}
