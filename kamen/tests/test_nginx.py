"""The shipped nginx configuration in front of gunicorn: pages, static files, notifications routed to
their own pool, and idle connections that no longer stall a page.

nginx (Debian's package) runs deploy/nginx/kamen.conf as shipped, with only its addresses replaced
(kamen.testing.nginx); gunicorn serves the prepared shop of kamen/tests/conftest.py with the
production worker class. The notification upstream is a recorder, so the test sees where nginx sent
each request.
"""

import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from kamen.testing.nginx import Nginx
from kamen.testing.outage import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("served-shop")
# More idle connections than gunicorn has threads (one worker x 4 threads here): served directly, a
# page waits for as long as they stay open (a trial with 32 had no answer within 60 s).
IDLE_CONNECTIONS = 32


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        Recorder.seen.append((self.command, self.path, self.headers.get("X-Forwarded-For", "")))
        body = b"notification pool"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def proxied(shop_files):
    """nginx in front of a gunicorn serving the shop, and of the notification recorder."""
    web_port = free_port()
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kamen.wsgi:application", f"--bind=127.0.0.1:{web_port}"]
        + ["--workers=1", "--worker-class=gthread", "--threads=4"],
        cwd=ROOT,
        env=shop_files["env"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    recorder = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    static_root = shop_files["env"]["STATIC_ROOT"]
    nginx = Nginx(web_port=web_port, notify_port=recorder.server_address[1], static_root=static_root)
    try:
        assert wait_until(lambda: _answers(f"http://127.0.0.1:{web_port}/"), timeout=60), "gunicorn did not come up"
        nginx.start()
        yield nginx.url
    finally:
        nginx.stop()
        recorder.shutdown()
        gunicorn.terminate()
        gunicorn.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code < 500
    except requests.RequestException:
        return False


def test_pages_come_from_gunicorn_static_files_from_nginx_and_notifications_from_their_own_pool(proxied, shop_files):
    page = requests.get(proxied + shop_files["product"], timeout=10)
    assert page.status_code == 200 and "腾讯Q币卡" in page.text

    css = requests.get(proxied + "/static/css/site.css", timeout=10)
    assert css.status_code == 200 and ".site-header" in css.text
    assert "max-age=2592000" in css.headers["Cache-Control"]  # nginx answered (expires 30d), not gunicorn

    notified = requests.post(proxied + "/payments/alipay/notify/", data={"trade_no": "P1"}, timeout=10)
    assert notified.text == "notification pool"
    assert Recorder.seen[-1] == ("POST", "/payments/alipay/notify/", "127.0.0.1")
    shopper_post = requests.post(proxied + "/orders/lookup/", data={}, timeout=10)
    assert shopper_post.text != "notification pool"  # only notifications go to that pool


def test_idle_connections_do_not_stall_a_page(proxied, shop_files):
    port = int(proxied.rsplit(":", 1)[1])
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            connection = socket.create_connection(("127.0.0.1", port), timeout=5)
            connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end of it
            idle.append(connection)

        # A timeout well under the stall the idle connections cause when gunicorn faces them itself.
        page = requests.get(proxied + shop_files["product"], timeout=8)
        home = requests.get(proxied + "/", timeout=8)
    finally:
        for connection in idle:
            connection.close()

    assert page.status_code == 200 and "腾讯Q币卡" in page.text
    assert home.status_code == 200
