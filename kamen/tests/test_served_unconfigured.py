"""The shop served by gunicorn with KAMEN_ENV unset, reached on this machine's non-loopback address.

This is the README's "PostgreSQL + gunicorn" recipe run by someone who set nothing else (here on a
SQLite file of its own). Whoever reaches it from elsewhere gets no debug page and no free sandbox:
with ALLOWED_HOSTS naming the address the sandbox is off altogether, and with the default loopback
names every request gets the 400 page, and a forged `Host: 127.0.0.1` still cannot pay at the sandbox.
"""

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
# One prepared shop (kamen/tests/conftest.py) and its servers for every test here (session-scoped, so
# tests of other modules run in between under pytest-xdist do not tear them down), in one test process.
pytestmark = pytest.mark.xdist_group("served-shop")
PAYMENT_STATES = "from payments.models import Payment; print(*Payment.objects.values_list('state', flat=True))"


def machine_address() -> str:
    """This machine's address on its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        address = probe.getsockname()[0]
    assert not address.startswith("127."), "this test needs a non-loopback network interface"
    return address


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def serve(shop_files, **env: str):
    address = machine_address()
    port = free_port(address)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kamen.wsgi:application", f"--bind={address}:{port}", "--workers=1"],
        cwd=ROOT,
        env={**shop_files["env"], **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://{address}:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/static/css/site.css", timeout=5)
            return server, url
        except requests.RequestException:
            assert server.poll() is None, server.stderr.read()
            time.sleep(0.1)
    server.kill()
    raise AssertionError("gunicorn did not come up")


@pytest.fixture(scope="session")
def shop_on_its_address(shop_files):
    """ALLOWED_HOSTS and SITE_URL name the machine's address, as someone serving it there would set."""
    address = machine_address()
    server, url = serve(shop_files, ALLOWED_HOSTS=address, SITE_URL=f"http://{address}")
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="session")
def shop_with_default_hosts(shop_files):
    server, url = serve(shop_files)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_an_unknown_page_is_the_shops_404_not_a_debug_page(shop_on_its_address):
    response = requests.get(shop_on_its_address + "/no-such-page/", timeout=10)

    assert response.status_code == 404
    assert "页面不存在" in response.text
    assert "URLconf" not in response.text and "DEBUG" not in response.text


def test_static_files_are_served(shop_on_its_address):
    response = requests.get(shop_on_its_address + "/static/css/site.css", timeout=10)

    assert response.status_code == 200 and ".site-header" in response.text


def test_no_sandbox_is_offered_and_its_pages_refuse(shop_on_its_address, shop_files):
    product = requests.get(shop_on_its_address + shop_files["product"], timeout=10)

    assert product.status_code == 200 and "腾讯Q币卡" in product.text
    assert 'value="sandbox"' not in product.text and "模拟支付" not in product.text
    assert requests.get(shop_on_its_address + "/payments/sandbox/pay/P1/", timeout=10).status_code == 404
    assert requests.post(shop_on_its_address + "/payments/sandbox/notify/", timeout=10).status_code == 404


def test_with_the_default_host_names_every_request_from_elsewhere_gets_the_400_page(shop_with_default_hosts):
    response = requests.get(shop_with_default_hosts + "/", timeout=10)

    assert response.status_code == 400
    assert "请求无法处理" in response.text and "ALLOWED_HOSTS" not in response.text


def test_a_forged_loopback_host_cannot_pay_at_the_sandbox(shop_with_default_hosts, shop_files):
    browser = requests.Session()
    browser.headers["Host"] = "127.0.0.1"
    product = browser.get(shop_with_default_hosts + shop_files["product"], timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', product.text).group(1)

    placed = browser.post(
        shop_with_default_hosts + "/orders/new/",
        data={
            "csrfmiddlewaretoken": token,
            "sku": shop_files["sku"],
            "quantity": "1",
            "contact_email": "guest@example.com",
            "lookup_password": "pw-1234",
            "payment_method": "sandbox",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert placed.status_code == 302, placed.text  # the sandbox is on, the shop answering loopback names only
    cashier = browser.get(shop_with_default_hosts + placed.headers["Location"], timeout=10)
    confirm = browser.post(cashier.url + "confirm/", data={"csrfmiddlewaretoken": token}, timeout=10)

    assert "/payments/sandbox/pay/" in cashier.url and cashier.status_code == 404
    assert confirm.status_code == 404
    assert shop_files["manage"]("shell", "-c", PAYMENT_STATES).split()[-1] == "pending"
