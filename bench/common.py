"""Shared benchmark plumbing: a fresh PostgreSQL database, Django in this process, gunicorn, HTTP load.

Not a benchmark itself. Every benchmark: `fresh_database()` → `setup_django()` → seed with the ORM →
`running_server()` (gunicorn in its own process group, always stopped) → load from threads with
persistent `http.client` connections → `emit()` one JSON line on stdout. Logs go to stderr.
"""

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/x.py`, this folder comes first on sys.path and bench/catalog.py would shadow the
# catalog app; the project root takes its place.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

OUT = ROOT / "bench" / "out"  # git-ignored: collected static files, server logs
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kamen_bench")
PORTS = range(8200, 8300)
WORKERS, THREADS = 4, 4  # gunicorn gthread; 2 cores are shared with the load generator
SERVER = f"gunicorn gthread {WORKERS} workers x {THREADS} threads"
STOP_TIMEOUT = 10
_STARTED = time.monotonic()


def _busy_cores(seconds: float = 1.0) -> float:
    """How many cores the machine kept busy over `seconds`, from /proc/stat (Linux)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            jiffies = [int(n) for n in stat.readline().split()[1:]]
        return sum(jiffies), jiffies[3] + jiffies[4]  # total, idle + iowait

    total, idle = sample()
    time.sleep(seconds)
    total2, idle2 = sample()
    return round((os.cpu_count() or 1) * (1 - (idle2 - idle) / max(1, total2 - total)), 2)


# Other work on the shared cores skews every figure: how busy they were just before is reported.
BUSY_CORES_AT_START = _busy_cores()


# SIGTERM unwinds like Ctrl-C, so `finally` blocks still stop the server.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def emit(figures: dict) -> None:
    """The benchmark's result: one JSON line on stdout."""
    print(json.dumps({**figures, "busy_cores_at_start": BUSY_CORES_AT_START}, ensure_ascii=False), flush=True)


# ---------------------------------------------------------------------------------------------------
# Database and Django
# ---------------------------------------------------------------------------------------------------
def _admin_connection():
    import psycopg2

    url = urllib.parse.urlsplit(DATABASE_URL)
    connection = psycopg2.connect(url._replace(path="/postgres").geturl())
    connection.autocommit = True
    return connection


def _ensure_postgres() -> None:
    import psycopg2

    try:
        _admin_connection().close()
        return
    except psycopg2.OperationalError:
        log("PostgreSQL is down; starting it")
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True)
    for _ in range(30):
        with suppress(psycopg2.OperationalError):
            _admin_connection().close()
            return
        time.sleep(1)
    raise RuntimeError("PostgreSQL did not come up")


def app_env(port: int | None = None) -> dict[str, str]:
    """The environment of the server and of Django in the bench process: same database, same keys."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kamen.settings",
        "DATABASE_URL": DATABASE_URL,
        "DEBUG": "False",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "KAMEN_LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(OUT / "staticfiles"),
        # Every shopper of a bench comes from 127.0.0.1; in a real sale they come from a thousand
        # addresses. The per-address rules (the proof-of-work check after a few guest checkouts, the
        # hold on a burst of paid orders) would treat them as one bot and hold or refuse the sale.
        "CAPTCHA_AFTER_GUEST_CHECKOUTS": "1000000000",
        "CAPTCHA_AFTER_SIGNUPS": "1000000000",
        "RISK_BURST_ORDERS": "0",
    }
    env.pop("REDIS_URL", None)  # no broker: Celery tasks run eagerly inside the request
    if port is not None:
        env["SITE_URL"] = f"http://127.0.0.1:{port}"
    return env


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=app_env(), check=True, stdout=sys.stderr)


def fresh_database() -> None:
    """Drop and recreate the bench database and migrate it, so every run starts from the same state."""
    _ensure_postgres()
    name = urllib.parse.urlsplit(DATABASE_URL).path.lstrip("/")
    connection = _admin_connection()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    log(f"database {name} recreated; migrating")
    manage("migrate", "--noinput", "-v", "0")


def setup_django(extra_env: dict[str, str] | None = None) -> None:
    """Django in the bench process, configured exactly like the server (and its `extra_env`)."""
    import django

    os.environ.update(app_env())
    os.environ.pop("REDIS_URL", None)  # update() keeps what app_env() left out
    os.environ.update(extra_env or {})
    django.setup()


def analyze_database() -> None:
    """Fresh statistics after bulk seeding, as autovacuum would leave them in a live shop.

    Without them the planner guesses row counts from an empty table and the figures depend on whether
    autovacuum happened to run during the benchmark.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# ---------------------------------------------------------------------------------------------------
# The catalogue the page benchmarks share
# ---------------------------------------------------------------------------------------------------
PRODUCTS = 10_000
CODES = 100_000
TOP_CATEGORIES = 4
CHILDREN_PER_TOP = 4  # 4 + 16 = 20 categories
GAMES = ("腾讯", "原神", "网易", "王者荣耀", "视频会员", "爱奇艺", "Steam", "英雄联盟")
SEARCHES = ("腾讯", "原神", "视频会员", "王者荣耀", "爱奇艺会员", "Steam")
# Shoppers crowd onto the best sellers: product pages are drawn from the first thousand products.
HOT_PRODUCTS = 1_000


def member_session(*, discount: str = "0.95") -> str:
    """The session cookie of a signed-in member of a discounted level (a second level is everyone's)."""
    from decimal import Decimal

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import MemberLevel, User

    MemberLevel.objects.get_or_create(name="普通会员", defaults={"rank": 0})
    silver, _ = MemberLevel.objects.get_or_create(name="白银会员", defaults={"rank": 10, "discount": Decimal(discount)})
    member, _ = User.objects.get_or_create(email="member@bench.local", defaults={"level": silver})
    member.set_password("bench-member-1234")
    member.save()
    session = SessionStore()
    session[SESSION_KEY] = str(member.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = member.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def seed_catalog(rng: random.Random) -> tuple[list[str], list[int]]:
    """The catalogue of the page benchmarks: 10,000 approved on-shelf products in 20 two-level categories
    (1-3 SKUs each) and 100,000 free, pre-encrypted codes, in bulk; returns top slugs and product ids."""

    from catalog import crypto, search
    from catalog.models import CardCode, Category, Product, Sku
    from kamen.money import cny

    tops = Category.objects.bulk_create(
        Category(name=f"大类{t}", slug=f"top-{t}", sort_order=t) for t in range(TOP_CATEGORIES)
    )
    children = Category.objects.bulk_create(
        Category(parent=top, name=f"{top.name}-小类{c}", slug=f"{top.slug}-sub-{c}", sort_order=c)
        for top in tops
        for c in range(CHILDREN_PER_TOP)
    )
    products = [
        Product(
            category=rng.choice(children),
            title=f"{GAMES[n % len(GAMES)]} 点卡 {n} 号",
            description="自动发货，付款后立即可见卡密。" * 5,
            status=Product.Status.APPROVED,
            is_on_shelf=True,
            is_hot=n % 100 == 0,
        )
        for n in range(PRODUCTS)
    ]
    for product in products:
        search.fill(product)  # bulk_create skips save(), which fills the search terms
    products = Product.objects.bulk_create(products, batch_size=2000)
    skus = Sku.objects.bulk_create(
        (
            Sku(product=product, name=f"{value}元面值", price=cny(value), sort_order=s)
            for product in products
            for s, value in enumerate((10, 50, 100)[: rng.randint(1, 3)])
        ),
        batch_size=5000,
    )
    log(f"{len(products)} products, {len(skus)} SKUs; encrypting {CODES} codes")
    codes = []
    for n in range(CODES):
        secret = f"BENCH{n:08d}{rng.getrandbits(48):012x}"
        codes.append(
            CardCode(
                sku=rng.choice(skus),
                secret_encrypted=crypto.encrypt(secret),
                fingerprint=crypto.fingerprint("", secret),
            )
        )
    CardCode.objects.bulk_create(codes, batch_size=5000)
    return [top.slug for top in tops], [product.pk for product in products]


# ---------------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------------
def free_port(ports: range = PORTS) -> int:
    for port in random.sample(ports, len(ports)):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


@contextmanager
def running_server(
    *,
    workers: int = WORKERS,
    threads: int = THREADS,
    extra_env: dict[str, str] | None = None,
    ports: range = PORTS,
    app: str = "kamen.wsgi:application",
    name: str = "",
) -> Iterator[int]:
    """gunicorn serving kamen (or `app`) on a free loopback port; yields the port, stops the whole group after.

    `extra_env` is added to the server's environment only (say REDIS_URL, for a real broker);
    `ports` narrows the range the port is picked from; `name` tells the log of a second server apart.
    """
    OUT.mkdir(exist_ok=True)
    manage("collectstatic", "--noinput", "-v", "0")  # DEBUG=False serves hashed names from the manifest
    port = free_port(ports)
    name = name or Path(sys.argv[0]).stem + ("" if app.startswith("kamen.") else "-" + app.split(":")[0].split(".")[-1])
    server_log = OUT / f"{name}-gunicorn.log"  # the latest run of each benchmark
    command = [sys.executable, "-m", "gunicorn", app, f"--bind=127.0.0.1:{port}"]
    command += [f"--workers={workers}", "--worker-class=gthread", f"--threads={threads}", "--backlog=2048"]
    command += ["--timeout=120", f"--graceful-timeout={STOP_TIMEOUT}"]
    with server_log.open("w") as output:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**app_env(port), **(extra_env or {})},
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    try:
        _wait_until_up(server, port, server_log)
        log(f"gunicorn up on port {port} ({workers} workers x {threads} threads), log {server_log}")
        yield port
    finally:
        stop_group(server)


def _wait_until_up(server: subprocess.Popen, port: int, server_log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{server_log.read_text()[-2000:]}")
        probe = Browser(port, timeout=5)
        with suppress(OSError):
            probe.get("/")  # any answer, even an error page, means it is serving
            probe.close()
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {seconds} s:\n{server_log.read_text()[-2000:]}")


def stop_group(process: subprocess.Popen, timeout: float = STOP_TIMEOUT + 5) -> None:
    """Stop a process started with start_new_session=True and its children: SIGTERM, then SIGKILL."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def flush_redis(url: str) -> None:
    """Empty a benchmark's own Redis database (its queues and cache), failing if Redis is not there."""
    import redis

    client = redis.Redis.from_url(url)
    client.ping()
    client.flushdb()
    client.close()


# ---------------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    body: str
    location: str
    ms: float


@dataclass
class Browser:
    """One shopper: a keep-alive loopback connection and its own cookie jar."""

    port: int
    timeout: float = 30
    cookies: dict[str, str] = field(default_factory=dict)
    _connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> Reply:
        try:
            return self._send("GET", path)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.close()  # the server dropped an idle keep-alive connection: one fresh try
            return self._send("GET", path)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self._send("POST", path, urllib.parse.urlencode(form))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _send(self, method: str, path: str, body: str | None = None) -> Reply:
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        except Exception:
            self.close()
            raise
        ms = (time.perf_counter() - started) * 1000
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return Reply(response.status, text, response.getheader("Location", ""), ms)


def form_token(html: str) -> str | None:
    """The CSRF token Django rendered into a form on the page."""
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------------
# Load and figures
# ---------------------------------------------------------------------------------------------------
def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


def latency_figures(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {f"p{p}_ms": round(percentile(ordered, p / 100), 1) for p in (50, 95, 99)}


def hammer(
    port: int, next_path: Callable[[random.Random], str], *, threads: int, seconds: float, max_requests: int
) -> dict:
    """GET paths from `threads` keep-alive clients until `seconds` pass or `max_requests` are sent."""
    latencies: list[float] = []
    errors: list[str] = []  # list.append is atomic across threads; Counter's += is not
    sent = iter(range(max_requests))
    deadline = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng, browser = random.Random(seed), Browser(port)
        while time.monotonic() < deadline and next(sent, None) is not None:
            try:
                reply = browser.get(next_path(rng))
            except (OSError, http.client.HTTPException) as error:
                errors.append(type(error).__name__)
                continue
            if reply.status == 200:
                latencies.append(reply.ms)
            else:
                errors.append(str(reply.status))
        browser.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(seed,), daemon=True) for seed in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 60)
    wall = time.perf_counter() - started
    if errors:
        log(f"errors: {dict(Counter(errors))}")
    return {
        **latency_figures(latencies),
        "rps": round(len(latencies) / wall, 1),
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
    }


# ---------------------------------------------------------------------------------------------------
# wrk: load from a generator that leaves the cores to the server
# ---------------------------------------------------------------------------------------------------
WRK_SCRIPT = """
local paths = {%(paths)s}
local counter = 0
local mean_ms = %(mean_ms)s
local headers = {%(headers)s}

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], headers)
end

-- An open model when a rate is asked for: each connection waits an exponential time between requests,
-- so arrivals do not slow down when the server does (as long as connections are left).
if mean_ms > 0 then
  delay = function() return -math.log(1 - math.random()) * mean_ms end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "errors": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "duration_us": %%d}\\n',
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), summary.duration))
end
"""


def ensure_installed(binary: str, package: str) -> str:
    """The path of `binary`, installing Debian's `package` first if it is missing."""
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin")
    if found is None:
        log(f"{binary} is missing; installing it (apt-get install {package})")
        quiet = {"stdout": subprocess.DEVNULL, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
        if subprocess.run(install, check=False, **quiet).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], check=True, **quiet)
            subprocess.run(install, check=True, **quiet)
        found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin")
    return found


def ensure_wrk() -> str:
    return ensure_installed("wrk", "wrk")


@contextmanager
def behind_nginx(web_port: int, notify_port: int | None = None) -> Iterator[int]:
    """The shipped nginx configuration (deploy/nginx/kamen.conf) in front of `web_port`; yields its port."""
    ensure_installed("nginx", "nginx")
    from kamen.testing.nginx import Nginx

    nginx = Nginx(web_port=web_port, notify_port=notify_port or web_port, static_root=OUT / "staticfiles").start()
    log(f"nginx up on port {nginx.port} in front of {web_port}")
    try:
        yield nginx.port
    finally:
        nginx.stop()


def wrk(port: int, paths: list[str], *, connections: int, seconds: float, rate: float = 0, cookie: str = "") -> dict:
    """GET `paths` (percent-encoded) in turn from `connections` keep-alive connections for `seconds`.

    Returns p50/p95/p99 latency, requests per second, requests and errors (non-2xx/3xx included).

    With `rate` (requests per second over all connections) each connection spaces its requests out at
    random, an open-model load; without, every connection sends its next request at once. With
    `cookie` every request carries it (a signed-in member's session).
    """
    mean_ms = connections * 1000 / rate if rate else 0
    headers = f'["Cookie"] = {json.dumps(cookie)}' if cookie else ""
    script = WRK_SCRIPT % {
        "paths": ", ".join(json.dumps(path) for path in paths),
        "mean_ms": f"{mean_ms:.3f}",
        "headers": headers,
    }
    OUT.mkdir(exist_ok=True)
    script_file = OUT / f"wrk-{os.getpid()}.lua"
    script_file.write_text(script)
    threads = 1 if connections < 64 else 2
    command = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout=10s"]
    command += ["-s", str(script_file), f"http://127.0.0.1:{port}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    script_file.unlink()
    result = json.loads(output.strip().splitlines()[-1])
    return {
        "p50_ms": round(result["p50_us"] / 1000, 1),
        "p95_ms": round(result["p95_us"] / 1000, 1),
        "p99_ms": round(result["p99_us"] / 1000, 1),
        "rps": round(result["requests"] / (result["duration_us"] / 1e6), 1),
        "requests": result["requests"],
        "errors": result["errors"],
    }
