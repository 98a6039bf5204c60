"""Real outages on demand, for tests and benchmarks: a TCP proxy that can be cut, a private Redis
that can be killed, and Celery processes started the way the deployment starts them.

Nothing here fakes a database or a broker: the proxy forwards bytes to the real PostgreSQL and
refuses connections while cut, exactly what clients see when the server is down; the Redis server
is a real `redis-server` with the deployment's persistence settings.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
REDIS_CONF = ROOT / "deploy" / "redis" / "kamen.conf"
# Workers skip mingle (a second's wait at every start for other workers' revoked-task lists; kamen
# revokes nothing) and gossip (every worker reading every other's events), as the deployment's do.
WORKER_FLAGS = ("--without-mingle", "--without-gossip")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


# ---------------------------------------------------------------------------------------------------
# A loopback TCP proxy
# ---------------------------------------------------------------------------------------------------
class TcpProxy:
    """Forwards 127.0.0.1:`port` to `upstream`. `cut()` drops every connection and refuses new ones
    (the server is down, as clients see it); `restore()` listens on the same port again."""

    def __init__(self, upstream: tuple[str, int], port: int | None = None) -> None:
        self.upstream = upstream
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    restore = start

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in connections:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    stop = cut

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    server.close()
                    return
                self._connections.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._connections.discard(source)
                self._connections.discard(target)


# ---------------------------------------------------------------------------------------------------
# A private Redis
# ---------------------------------------------------------------------------------------------------
class RedisServer:
    """A `redis-server` of our own on a free port, configured from deploy/redis/kamen.conf.

    `kill()` is a crash (SIGKILL: no chance to save anything); `start()` again reads back what the
    append-only file kept.
    """

    def __init__(self, *, port: int | None = None, config: Path = REDIS_CONF) -> None:
        self.port = port or free_port()
        self.config = config
        self.dir = Path(tempfile.mkdtemp(prefix="kamen-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        command = ["redis-server", str(self.config), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.dir), "--daemonize", "no", "--logfile", str(self.dir / "redis.log")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        if not wait_until(self.ping, timeout=10):
            raise RuntimeError(f"redis-server on port {self.port} did not start: {self._log_tail()}")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except (redis.ConnectionError, redis.BusyLoadingError, OSError):
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _log_tail(self) -> str:
        log = self.dir / "redis.log"
        return log.read_text()[-1000:] if log.exists() else ""


# ---------------------------------------------------------------------------------------------------
# Celery processes
# ---------------------------------------------------------------------------------------------------
def celery_command(kind: str, *, concurrency: int = 2, state: Path | None = None) -> list[str]:
    """The worker or beat command line the deployment runs (deploy/systemd/kamen-*.service).

    Beat keeps its schedule in a file under `state` (the temporary folder by default).
    """
    celery = [sys.executable, "-m", "celery", "-A", "kamen"]
    if kind == "worker":
        queues = ["-Q", "delivery,default,mail", *WORKER_FLAGS]
        return [*celery, "worker", *queues, "-c", str(concurrency), "-l", "info"]
    schedule = (state or Path(tempfile.gettempdir())) / f"kamen-celerybeat-schedule-{os.getpid()}"
    return [*celery, "beat", "-l", "info", "-s", str(schedule)]


class Supervised:
    """A process kept running by a small supervisor loop: restarted `restart_delay` s after it exits,
    as `Restart=always` does under systemd. `restarts` counts how often that was needed."""

    def __init__(self, command: list[str], *, env: dict[str, str], log: Path, restart_delay: float = 1.0) -> None:
        self.command, self.env, self.log, self.restart_delay = command, env, log, restart_delay
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> "Supervised":
        self._spawn()
        self._thread.start()
        return self

    def _spawn(self) -> None:
        with self.log.open("a") as output:
            self.process = subprocess.Popen(  # noqa: S603 - a command line of our own
                self.command, cwd=ROOT, env=self.env, stdout=output, stderr=output, start_new_session=True
            )

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            if self.process is not None and self.process.poll() is not None:
                if self._stopping.wait(self.restart_delay):
                    return
                self.restarts += 1
                self._spawn()
            self._stopping.wait(0.2)

    def stop(self, timeout: float = 15) -> None:
        self._stopping.set()
        self._thread.join(5)
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextmanager
def celery_broker(url: str):
    """Tasks of this process go to the broker at `url` instead of running inline, until the block ends."""
    import kombu.pools

    from kamen.celery import app

    def drop_connections() -> None:
        # The app caches its broker pools (kombu keeps them per URL); close them when the URL changes.
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    overrides = {"broker_url": url, "task_always_eager": False}
    saved = {key: app.conf[key] for key in overrides}
    app.conf.update(overrides)
    drop_connections()
    try:
        yield app
    finally:
        app.conf.update(saved)
        drop_connections()


def mailed_to(folder: Path) -> list[str]:
    """Recipients of every e-mail Django's file backend wrote into `folder`, one entry per e-mail."""
    if not folder.exists():
        return []
    return [
        line.removeprefix("To: ").strip()
        for path in sorted(folder.iterdir())
        for line in path.read_text(errors="replace").splitlines()
        if line.startswith("To: ")
    ]
