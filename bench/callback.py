"""Payment callbacks: signed Alipay notifications per second and how long a valid one takes to handle.

The bench plays 支付宝's notify server. It makes an RSA key pair for the app and one for "Alipay"
(the server trusts the latter's public key through ALIPAY_PUBLIC_KEY_FILE), places 2,000 guest orders
paid by Alipay through `orders.services.place_order`, and signs one notification per payment exactly
as Alipay does (form fields, RSA2 = RSA-SHA256 PKCS#1 v1.5 over the sorted `k=v&...` of every
non-empty field but `sign` and `sign_type`) before the clock starts. Then 8, later 16, keep-alive
client threads POST them to /payments/alipay/notify/ on a gunicorn server; about one in ten is sent
a second time once the first was answered, as Alipay re-sends, and timed apart. Every one must be
answered 200 "success". The database is audited afterwards: each payment confirmed exactly once.

Delivery is not measured: the server gets REDIS_URL (its own Redis database, flushed before and
after), so `deliver_order_task` is queued to the broker at commit and no worker runs. WeChat Pay
wants our answer within 5 s or sends again; the target here is p99 < 100 ms. Prints one JSON line.

    .venv/bin/python bench/callback.py     # BENCH_DATABASE_URL, BENCH_REDIS_URL optional
"""

import base64
import http.client
import os
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from common import (
    SERVER,
    _busy_cores,
    analyze_database,
    emit,
    flush_redis,
    fresh_database,
    latency_figures,
    log,
    running_server,
    setup_django,
)

CONCURRENCY_LEVELS = (8, 16)
PAYMENTS_PER_PHASE = 1000
WARMUP = 32  # first notifications per server before timing (imports, key parsing, connections)
DUPLICATE_EVERY = 10  # every tenth notification is sent again ...
DUPLICATE_AFTER = 5  # ... by the same client, after this many more of its own requests
PRICE = "10.00"
APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"
NOTIFY_PATH = "/payments/alipay/notify/"
# Its own Redis database: the queued deliveries must never reach a worker serving another database.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PORTS = range(8250, 8300)
REQUEST_TIMEOUT = 30
SHANGHAI = ZoneInfo("Asia/Shanghai")


# ---------------------------------------------------------------------------------------------------
# Keys and notifications
# ---------------------------------------------------------------------------------------------------
def make_keys(folder: Path):
    """The app key pair and Alipay's; the server reads them as PEM files. Returns Alipay's private key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alipay_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    app_pem = folder / "app_private_key.pem"  # PKCS#1, as the Alipay SDK requires
    app_pem.write_bytes(
        app_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    alipay_pem = folder / "alipay_public_key.pem"
    alipay_pem.write_bytes(
        alipay_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    # Set before Django starts, so checkout here offers Alipay; app_env() passes them on to the server.
    os.environ.update(
        {
            "ALIPAY_ENABLED": "1",
            "ALIPAY_APP_ID": APP_ID,
            "ALIPAY_SELLER_ID": SELLER_ID,
            "ALIPAY_APP_PRIVATE_KEY_FILE": str(app_pem),
            "ALIPAY_PUBLIC_KEY_FILE": str(alipay_pem),
        }
    )
    return alipay_key


def sign_content(params: dict[str, str]) -> str:
    """Alipay's notify sign content, written here from Alipay's documentation rather than imported."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("sign", "sign_type") and v != "")


def notification(payment, n: int, alipay_key) -> str:
    """The form body Alipay POSTs when `payment` is paid (TRADE_SUCCESS), signed RSA2."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    now = datetime.now(SHANGHAI)
    stamp = f"{now:%Y-%m-%d %H:%M:%S}"
    amount = f"{payment.amount.amount:.2f}"
    params = {
        "app_id": APP_ID,
        "auth_app_id": APP_ID,
        "seller_id": SELLER_ID,
        "out_trade_no": payment.trade_no,
        "trade_no": f"{now:%Y%m%d}22001400000000{n:06d}",  # Alipay's trade number, unique per payment
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount,
        "receipt_amount": amount,
        "invoice_amount": amount,
        "buyer_pay_amount": amount,
        "point_amount": "0.00",
        "subject": payment.description,
        "buyer_id": f"2088{n:012d}",
        "fund_bill_list": f'[{{"amount":"{amount}","fundChannel":"ALIPAYACCOUNT"}}]',
        "notify_id": uuid.uuid4().hex,
        "notify_type": "trade_status_sync",
        "notify_time": stamp,
        "gmt_create": stamp,
        "gmt_payment": stamp,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
    }
    signature = alipay_key.sign(sign_content(params).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    params["sign"] = base64.b64encode(signature).decode("ascii")
    return urllib.parse.urlencode(params)


# ---------------------------------------------------------------------------------------------------
# Seed
# ---------------------------------------------------------------------------------------------------
def seed(count: int) -> list:
    """One product and SKU with `count` codes, and `count` pending Alipay payments of one code each."""

    from catalog.models import Category, Product, Sku
    from kamen.money import cny
    from kamen.testing.factories import stock
    from orders.services import place_order

    category = Category.objects.create(name="回调", slug="callback")
    product = Product.objects.create(
        category=category, title="回调测试点卡", status=Product.Status.APPROVED, is_on_shelf=True
    )
    sku = Sku.objects.create(product=product, name="10元面值", price=cny(PRICE))
    stock(sku, count, prefix="CB")
    return [
        place_order(sku, quantity=1, user=None, contact_email=f"buyer{n}@example.com", payment_method="alipay").payment
        for n in range(count)
    ]


def queued_deliveries() -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    # kombu keeps a queue as a list named after it (plus priority-suffixed lists).
    queued = sum(client.llen(key) for key in client.scan_iter("delivery*") if client.type(key) == b"list")
    client.close()
    return queued


# ---------------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------------
def post(connection: http.client.HTTPConnection, body: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    connection.request(
        "POST", NOTIFY_PATH, body=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    response = connection.getresponse()
    text = response.read().decode("utf-8", errors="replace")
    return response.status, text, (time.perf_counter() - started) * 1000


def run_phase(port: int, bodies: list[str], concurrency: int) -> dict:
    """`concurrency` gateway clients send every body once and every DUPLICATE_EVERY-th one again."""
    firsts: list[float] = []
    duplicates: list[float] = []
    errors: list[str] = []  # list.append is atomic across threads
    resent: list[int] = []
    work = iter(enumerate(bodies))
    barrier = threading.Barrier(concurrency + 1)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        again: list[tuple[int, str]] = []  # (send after this many requests, body) re-sends
        sent = 0
        barrier.wait()
        while True:
            if again and again[0][0] <= sent:
                n, body, latencies = None, again.pop(0)[1], duplicates
            elif (item := next(work, None)) is not None:
                (n, body), latencies = item, firsts
            elif again:  # nothing new left: the re-sends still owed
                n, body, latencies = None, again.pop(0)[1], duplicates
            else:
                break
            sent += 1
            if n is None:
                resent.append(1)
            try:
                status, text, ms = post(connection, body)
            except (OSError, http.client.HTTPException) as error:
                connection.close()  # reconnects on the next request; no retry, that would be a duplicate
                errors.append(type(error).__name__)
                continue
            if status != 200 or text != "success":
                errors.append(f"{status} {text[:40]}")
                continue
            latencies.append(ms)
            if n is not None and n % DUPLICATE_EVERY == 0:
                again.append((sent + DUPLICATE_AFTER, body))
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(600)
    seconds = time.perf_counter() - started
    if errors:
        log(f"concurrency {concurrency}: errors {dict(Counter(errors))}")
    first = latency_figures(firsts)
    return {
        "concurrency": concurrency,
        "notifications": len(bodies),
        "duplicates_sent": len(resent),
        "seconds": round(seconds, 2),
        "notifications_per_s": round((len(firsts) + len(duplicates)) / seconds, 1),
        **first,
        "max_ms": round(max(firsts, default=0.0), 1),
        "duplicates_p50_ms": latency_figures(duplicates)["p50_ms"],
        "duplicates_p99_ms": latency_figures(duplicates)["p99_ms"],
        "errors": len(errors),
    }


# ---------------------------------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------------------------------
def audit(payment_ids: list[int]) -> dict:
    """What the database says: each payment confirmed once, by exactly one "confirmed" notification."""
    from django.db.models import Count

    from orders.models import Order
    from payments.models import Payment, PaymentNotification

    results = Counter(dict(PaymentNotification.objects.values_list("result").annotate(n=Count("id"))))
    confirmed_by = PaymentNotification.objects.filter(result=PaymentNotification.Result.CONFIRMED)
    per_payment = confirmed_by.values("payment").annotate(n=Count("id"))
    confirmed = Payment.objects.filter(pk__in=payment_ids, state=Payment.State.CONFIRMED)
    return {
        "confirmed": results[PaymentNotification.Result.CONFIRMED],
        "duplicate": results[PaymentNotification.Result.DUPLICATE],
        "rejected": results[PaymentNotification.Result.REJECTED],
        "handling_errors": results[PaymentNotification.Result.ERROR],
        "payments_confirmed": confirmed.count(),
        "payments_confirmed_twice": per_payment.filter(n__gt=1).count(),
        # A confirmed payment whose confirmation no notification owns, or owned by more than one.
        "payments_without_one_confirmation": confirmed.exclude(
            pk__in=per_payment.filter(n=1).values("payment")
        ).count(),
        "orders_paid": Order.objects.filter(
            payment_links__payment_id__in=payment_ids, status=Order.Status.PAID
        ).count(),
    }


def main() -> None:
    phases_payments = len(CONCURRENCY_LEVELS) * PAYMENTS_PER_PHASE
    with tempfile.TemporaryDirectory(prefix="kamen-bench-keys-") as keys:
        alipay_key = make_keys(Path(keys))
        fresh_database()
        setup_django()
        log(f"placing {WARMUP + phases_payments} Alipay orders")
        started = time.perf_counter()
        payments = seed(WARMUP + phases_payments)
        analyze_database()  # as autovacuum would leave it, rather than whenever autovacuum gets to it
        log(f"placed in {time.perf_counter() - started:.1f} s; signing their notifications")
        started = time.perf_counter()
        bodies = [notification(payment, n, alipay_key) for n, payment in enumerate(payments)]
        log(f"signed in {time.perf_counter() - started:.1f} s")
        flush_redis(REDIS_URL)  # no broker, no benchmark: the server would fail every notification at commit
        try:
            with running_server(extra_env={"REDIS_URL": REDIS_URL}, ports=PORTS) as port:
                warmup = run_phase(port, bodies[:WARMUP], max(CONCURRENCY_LEVELS))
                log(f"warm-up: {warmup}")
                phases = []
                for level, concurrency in enumerate(CONCURRENCY_LEVELS):
                    start = WARMUP + level * PAYMENTS_PER_PHASE
                    log(f"{PAYMENTS_PER_PHASE} notifications from {concurrency} clients")
                    phases.append(run_phase(port, bodies[start : start + PAYMENTS_PER_PHASE], concurrency))
                    log(f"concurrency {concurrency}: {phases[-1]}")
            # The server is gone: whatever keeps the cores busy now is someone else's, and skewed the run.
            busy_after = _busy_cores()
            figures = audit([payment.pk for payment in payments])
            queued = queued_deliveries()
        finally:
            flush_redis(REDIS_URL)
    unique = len(payments)
    duplicates_sent = warmup["duplicates_sent"] + sum(phase["duplicates_sent"] for phase in phases)
    checks_ok = (
        figures["confirmed"] == figures["payments_confirmed"] == figures["orders_paid"] == unique
        and figures["duplicate"] == duplicates_sent
        and figures["payments_confirmed_twice"] == figures["payments_without_one_confirmation"] == 0
        and figures["rejected"] == figures["handling_errors"] == 0
    )
    if not checks_ok:
        log(f"audit failed: {figures}, {unique} payments, {duplicates_sent} duplicates sent")
    top = phases[-1]  # the highest concurrency is the figure the target is about
    emit(
        {
            "bench": "callback",
            "provider": "alipay",
            "server": SERVER,
            **{k: top[k] for k in ("concurrency", "notifications", "seconds", "notifications_per_s")},
            **{k: top[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "duplicates_p99_ms")},
            "target": "p99 < 100 ms",
            "target_met": top["p99_ms"] < 100,
            "errors": warmup["errors"] + sum(phase["errors"] for phase in phases),
            **figures,
            "unique_sent": unique,
            "duplicates_sent": duplicates_sent,
            "audit_ok": checks_ok,
            "delivery": "queued to Redis (no worker)",
            "deliveries_queued": queued,
            "phases": phases,
            "busy_cores_after": busy_after,
        }
    )


if __name__ == "__main__":
    main()
