"""Outage: a buying burst while PostgreSQL, then Redis, is stopped for 15 s — is every paid order
confirmed, delivered and mailed exactly once?

Runs the shop as deployed: gunicorn, a Celery worker and beat (each kept running by a small
supervisor loop that restarts it, as `Restart=always` does in deploy/systemd/), a private
redis-server with the deployment's append-only persistence (deploy/redis/kamen.conf) as broker and
cache, and PostgreSQL behind a loopback proxy that every server process connects through. Shoppers
(BUYERS threads, each purchase a new guest with its own cookies) loop through product page →
checkout → our payment page → sandbox cashier → pay, for BURST seconds; a shopper who gets an
error waits a second and tries the same step again, as people do. OUTAGE_AT seconds in, the
database (phase 1: the proxy refuses every connection and drops the open ones) or the broker
(phase 2: redis-server is killed with SIGKILL, then started again from its files) is gone for
OUTAGE seconds. Meanwhile a prober reads the home, product and an order page every half second.

Then the bench waits (up to SETTLE_CAP s after the burst) until the sandbox gateway's books and the
shop agree: every trade the shoppers paid is a confirmed payment, a delivered order and one e-mail
(Django's file backend, counted per buyer). Sweeps run every 5 s and look at work older than 20 s, instead of
every 30–60 s and after one to two minutes (settings `*_SECONDS`); the task retry policy is the
shipped default. Prints one JSON line: per phase paid / confirmed / delivered / e-mails / lost.

    .venv/bin/python bench/outage.py     # BENCH_DATABASE_URL optional (default: database kamen_bench_outage)
    BENCH_OUTAGE_SECONDS=60 BENCH_BURST_SECONDS=100 .venv/bin/python bench/outage.py   # a minute's outage
"""

import os
import re
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kamen_bench_outage")

from common import (  # noqa: E402 - the database default above must be set first
    DATABASE_URL,
    OUT,
    Browser,
    app_env,
    emit,
    form_token,
    fresh_database,
    log,
    running_server,
    setup_django,
)

from kamen.testing.outage import RedisServer, Supervised, TcpProxy, celery_command, mailed_to  # noqa: E402

BUYERS = 6
BURST = int(os.environ.get("BENCH_BURST_SECONDS", 50))  # seconds of buying
OUTAGE_AT = 12  # seconds into the burst
OUTAGE = int(os.environ.get("BENCH_OUTAGE_SECONDS", 15))
SETTLE_CAP = 240
CODES = 3000
PRICE = "10.00"
WEB_WORKERS, WEB_THREADS = 2, 4
PAYMENT_PAGE = re.compile(r"/payments/pay/([^/]+)/$")
FAST_SWEEPS = {
    "SWEEP_EVERY_SECONDS": "5",
    "RECONCILE_EVERY_SECONDS": "5",
    "DELIVERY_SWEEP_AFTER_SECONDS": "20",
    "MAIL_SWEEP_AFTER_SECONDS": "20",
    "PAYMENT_QUERY_AFTER_SECONDS": "20",
    "MAIL_CLAIM_STALE_AFTER_SECONDS": "60",
}


@dataclass
class Tally:
    """What the shoppers and the prober saw; list.append is atomic across threads."""

    purchases: list[str] = field(default_factory=list)  # buyer e-mails whose payment went through
    errors: list[str] = field(default_factory=list)  # one entry per failed request: "checkout 500", ...
    pages: list[tuple[float, str, int]] = field(default_factory=list)  # (time, page, status) from the prober
    orders: list[tuple[dict[str, str], str]] = field(default_factory=list)  # (a buyer's cookies, order page)


def seed(phase: str):
    from djmoney.money import Money

    from catalog.models import Category, Product, Sku
    from catalog.services import import_codes

    category = Category.objects.create(name=f"停机演练 {phase}", slug=f"outage-{phase}")
    product = Product.objects.create(
        category=category, title=f"停机点卡 {phase}", status=Product.Status.APPROVED, is_on_shelf=True
    )
    sku = Sku.objects.create(product=product, name="10元面值", price=Money(PRICE, "CNY"))
    import_codes(sku, "\n".join(f"OUT-{phase}-{n:05d}" for n in range(CODES)))
    return sku


# ---------------------------------------------------------------------------------------------------
# Shoppers and the prober
# ---------------------------------------------------------------------------------------------------
def persist(tally: Tally, what: str, request, *, deadline: float, ok=lambda reply: reply.status < 500):
    """Send `request()` until it answers without a server error; every failure is tallied."""
    while time.monotonic() < deadline:
        try:
            reply = request()
        except OSError as error:
            tally.errors.append(f"{what} {type(error).__name__}")
        else:
            if ok(reply):
                return reply
            tally.errors.append(f"{what} {reply.status}")
        time.sleep(1)
    return None


def purchase(port: int, sku, email: str, tally: Tally, deadline: float) -> None:
    shopper = Browser(port, timeout=30)
    page = persist(tally, "product", lambda: shopper.get(f"/p/{sku.product_id}/"), deadline=deadline)
    if page is None or form_token(page.body) is None:
        return
    form = {
        "csrfmiddlewaretoken": form_token(page.body),
        "sku": str(sku.pk),
        "quantity": "1",
        "contact_email": email,
        "lookup_password": "outage-1234",
        "payment_method": "sandbox",
    }
    checkout = persist(tally, "checkout", lambda: shopper.post("/orders/new/", form), deadline=deadline)
    if checkout is None or not PAYMENT_PAGE.search(checkout.location):
        return
    trade_no = PAYMENT_PAGE.search(checkout.location).group(1)
    cashier_path = f"/payments/sandbox/pay/{trade_no}/"
    cashier = persist(tally, "cashier", lambda: shopper.get(cashier_path), deadline=deadline)
    if cashier is None or form_token(cashier.body) is None:
        return
    paid = persist(
        tally,
        "pay",
        lambda: shopper.post(cashier_path + "confirm/", {"csrfmiddlewaretoken": form_token(cashier.body)}),
        deadline=deadline,
    )
    if paid is not None and paid.status == 302 and "/orders/" in paid.location:
        tally.purchases.append(email)
        tally.orders.append((dict(shopper.cookies), urllib.parse.urlsplit(paid.location).path))
    shopper.close()


def shoppers(port: int, sku, phase: str, tally: Tally, until: float) -> list[threading.Thread]:
    counter = iter(range(10**6))

    def shop() -> None:
        while time.monotonic() < until:
            purchase(port, sku, f"{phase}-{next(counter)}@example.com", tally, deadline=until + 30)

    return [threading.Thread(target=shop, daemon=True) for _ in range(BUYERS)]


def prober(port: int, sku, tally: Tally, until: float) -> threading.Thread:
    """Reads the home page, the product page and a buyer's own order page every half second."""

    def probe() -> None:
        browser = Browser(port, timeout=10)
        while time.monotonic() < until:
            pages = [("home", "/"), ("product", f"/p/{sku.product_id}/")]
            if tally.orders:
                cookies, path = tally.orders[-1]
                browser.cookies = dict(cookies)  # that buyer's session: their order is theirs to see
                pages.append(("order", path))
            for name, path in pages:
                try:
                    status = browser.get(path).status
                except OSError:
                    status = 0
                tally.pages.append((time.monotonic(), name, status))
            time.sleep(0.5)
        browser.close()

    return threading.Thread(target=probe, daemon=True)


# ---------------------------------------------------------------------------------------------------
# The books
# ---------------------------------------------------------------------------------------------------
def books(sku, mail_folder: Path) -> dict:
    """What the gateway's books, the shop's database and the mail folder say about this phase."""
    from django.db import close_old_connections

    from orders.models import Order
    from payments.models import Payment, PaymentNotification, SandboxTrade

    close_old_connections()
    trade_nos = set(Payment.objects.filter(order_link__order__sku=sku).values_list("trade_no", flat=True))
    paid = set(SandboxTrade.objects.filter(trade_no__in=trade_nos, state="paid").values_list("trade_no", flat=True))
    payments = Payment.objects.filter(trade_no__in=paid)
    confirmed = payments.filter(state=Payment.State.CONFIRMED).count()
    notified = (
        PaymentNotification.objects.filter(payment__in=payments, result=PaymentNotification.Result.CONFIRMED)
        .values("payment")
        .distinct()
        .count()
    )
    orders = Order.objects.filter(payment_links__payment__trade_no__in=paid)
    delivered = set(orders.filter(status=Order.Status.DELIVERED).values_list("contact_email", flat=True))
    buyers = set(orders.values_list("contact_email", flat=True))
    mails = Counter(address for address in mailed_to(mail_folder) if address in buyers)
    mailed = {address for address in delivered if mails[address] >= 1}
    return {
        "orders_placed": Order.objects.filter(sku=sku).count(),
        "paid": len(paid),
        "confirmed": confirmed,
        "confirmed_by_query": confirmed - notified,  # the notification was lost; reconciliation asked the sandbox
        "delivered": len(delivered),
        "emails_sent": sum(mails.values()),
        "duplicate_emails": sum(n - 1 for n in mails.values() if n > 1),
        "lost": len(paid) - len(mailed),
        "unpaid_orders_left": Order.objects.filter(sku=sku, status=Order.Status.PENDING_PAYMENT).count(),
    }


def settled(figures: dict) -> bool:
    paid = figures["paid"]
    return paid == figures["confirmed"] == figures["delivered"] == figures["emails_sent"] and figures["lost"] == 0


# ---------------------------------------------------------------------------------------------------
# One phase
# ---------------------------------------------------------------------------------------------------
def run_phase(phase: str) -> dict:
    sku = seed(phase)
    mail_folder = OUT / f"outage-{phase}-mail"
    for old in mail_folder.glob("*"):
        old.unlink()
    redis = RedisServer().start()
    upstream = urllib.parse.urlsplit(DATABASE_URL)
    database = TcpProxy((upstream.hostname or "127.0.0.1", upstream.port or 5432)).start()
    proxied = upstream._replace(netloc=f"{upstream.netloc.rsplit('@', 1)[0]}@127.0.0.1:{database.port}").geturl()
    server_env = {
        "DATABASE_URL": proxied,
        "REDIS_URL": redis.url,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_folder),
        "DATABASE_CONNECT_TIMEOUT": "2",
        **FAST_SWEEPS,
    }
    supervised: list[Supervised] = []
    try:
        with running_server(workers=WEB_WORKERS, threads=WEB_THREADS, extra_env=server_env) as port:
            env = {**app_env(port), **server_env}
            for kind in ("worker", "beat"):
                log_file = OUT / f"outage-{phase}-{kind}.log"
                log_file.write_text("")
                command = celery_command(kind, concurrency=2, state=OUT)
                supervised.append(Supervised(command, env=env, log=log_file).start())
            worker, beat = supervised
            time.sleep(6)  # worker and beat up
            tally = Tally()
            started = time.monotonic()
            until = started + BURST
            threads = [*shoppers(port, sku, phase, tally, until), prober(port, sku, tally, until + 5)]
            for thread in threads:
                thread.start()
            time.sleep(OUTAGE_AT)
            outage_started = time.monotonic()
            log(f"{phase}: outage starts ({len(tally.purchases)} purchases so far)")
            if phase == "database":
                database.cut()
            else:
                redis.kill()
            time.sleep(OUTAGE)
            if phase == "database":
                database.restore()
            else:
                redis.start()
            outage_ended = time.monotonic()
            log(f"{phase}: outage over ({len(tally.purchases)} purchases so far)")
            for thread in threads:
                thread.join(BURST + 60)
            burst_ended = time.monotonic()
            log(f"{phase}: burst over, {len(tally.purchases)} purchases; waiting for the books to settle")
            figures = books(sku, mail_folder)
            while not settled(figures) and time.monotonic() < burst_ended + SETTLE_CAP:
                time.sleep(1)
                figures = books(sku, mail_folder)
            settle_seconds = round(time.monotonic() - burst_ended, 1)
            during: dict[str, Counter] = {}
            for at, name, status in tally.pages:
                if outage_started <= at <= outage_ended:
                    during.setdefault(name, Counter())["ok" if status == 200 else "failed"] += 1
            errors = Counter(entry.rsplit(" ", 1)[0] for entry in tally.errors)
            return {
                **figures,
                "purchases_completed_by_shoppers": len(tally.purchases),
                "shopper_errors": dict(errors),
                "pages_during_outage": {name: dict(counts) for name, counts in during.items()},
                "settled_seconds_after_burst": settle_seconds if settled(figures) else None,
                "worker_restarts": worker.restarts,
                "beat_restarts": beat.restarts,
            }
    finally:
        for process in supervised:
            process.stop()
        database.stop()
        redis.cleanup()


def main() -> None:
    fresh_database()
    setup_django()
    OUT.mkdir(exist_ok=True)
    phases = {}
    for phase in ("database", "broker"):
        phases[phase] = run_phase(phase)
        log(f"{phase}: {phases[phase]}")
    emit(
        {
            "bench": "outage",
            "outage_seconds": OUTAGE,
            "buyers": BUYERS,
            "burst_seconds": BURST,
            "server": f"gunicorn gthread {WEB_WORKERS} workers x {WEB_THREADS} threads, worker -c 2, beat",
            **phases,
            "lost": sum(p["lost"] for p in phases.values()),
        }
    )


if __name__ == "__main__":
    main()
