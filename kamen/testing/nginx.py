"""nginx from Debian's package, run with the shipped server block (deploy/nginx/kamen.conf).

Used by the tests and the benchmarks to put the real proxy configuration in front of gunicorn: the
shipped file is read as it is, and only its addresses are replaced (the port nginx listens on, the
two gunicorn upstreams, the static files folder), inside a main configuration of its own that keeps
every file nginx writes in a temporary folder.
"""

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from .outage import ROOT, free_port, wait_until

SHIPPED = ROOT / "deploy" / "nginx" / "kamen.conf"
# What the shipped file says, and what a local run puts in its place.
LISTEN, WEB, NOTIFY, STATIC = "listen 80;", "127.0.0.1:8000", "127.0.0.1:8001", "/srv/kamen/staticfiles/"

MAIN = """
daemon off;
worker_processes 2;
{user}
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {home}/body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
{server}
}}
"""


def nginx_binary() -> str | None:
    """nginx from PATH, or where Debian puts it (/usr/sbin is not on every PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


class Nginx:
    def __init__(self, *, web_port: int, notify_port: int, static_root: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.home = Path(tempfile.mkdtemp(prefix="kamen-nginx-"))
        shipped = SHIPPED.read_text()
        for literal in (LISTEN, WEB, NOTIFY, STATIC):
            assert literal in shipped, f"{SHIPPED} no longer says {literal!r}"
        server = (
            shipped.replace(LISTEN, f"listen 127.0.0.1:{self.port} backlog=4096;")
            .replace(WEB, f"127.0.0.1:{web_port}")
            .replace(NOTIFY, f"127.0.0.1:{notify_port}")
            .replace(STATIC, f"{Path(static_root).resolve()}/")
        )
        # As root, nginx's workers would drop to "nobody", who cannot read a private temporary folder.
        user = "user root;" if os.geteuid() == 0 else ""
        (self.home / "nginx.conf").write_text(MAIN.format(home=self.home, server=server, user=user))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Nginx":
        binary = nginx_binary()
        assert binary, "nginx is not installed (apt-get install nginx)"
        command = [binary, "-p", str(self.home), "-c", str(self.home / "nginx.conf")]
        check = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)  # noqa: S603 - our own
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
        if not wait_until(self._listening, timeout=10):
            self.stop()
            raise AssertionError(f"nginx did not come up: {self.error_log()}")
        return self

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def error_log(self) -> str:
        log = self.home / "error.log"
        return log.read_text()[-2000:] if log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # fast shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)
