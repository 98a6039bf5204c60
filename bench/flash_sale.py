"""Flash sale: 1,000 buyers arrive within one second for 100 card codes, through the real shop.

Runs the shop as deployed: gunicorn behind the shipped nginx configuration, which routes gateway
notifications to a gunicorn of their own, Redis as broker and cache, and a real Celery worker that
delivers. One product, one SKU, exactly 100 codes. Each buyer (a thread with its own cookie jar and
connection) arrives at its moment within the first second: GET the product page (CSRF cookie and form
token), POST /orders/new/ (302 to the cashier = an order; 409 = sold out). For every order the
bench then plays the gateway: it POSTs a notification signed with the sandbox key, and the buyer
polls the order's status, as the order page does, until the codes are there. Every buyer also types
the coupon code FLASH5 (¥5 off, 40 uses): those who come too late for it are told it is used up and
check out again without it. Afterwards the database is checked: no code sold twice, no more than 100
sold, every paid order delivered, no coupon use beyond its limit. Prints one JSON line: orders per
minute while stock lasted, checkout latency, payment-to-codes latency.

    .venv/bin/python bench/flash_sale.py   # BENCH_DATABASE_URL, BENCH_REDIS_URL optional
"""

import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

from common import (
    OUT,
    SERVER,
    Browser,
    app_env,
    behind_nginx,
    emit,
    flush_redis,
    form_token,
    fresh_database,
    latency_figures,
    log,
    running_server,
    setup_django,
    stop_group,
)

BUYERS = 1000
ARRIVAL_SECONDS = 1.0
CODES = 100
PRICE = "30.00"
COUPON_CODE, COUPON_USES, COUPON_OFF = "FLASH5", int(os.environ.get("BENCH_COUPON_USES", 40)), "5.00"
TIME_CAP = 120  # seconds for the whole sale; buyers still waiting then count as errors
REQUEST_TIMEOUT = 100
POLL_SECONDS = 1.0  # as the payment and order pages poll (static/js/site.js)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
NOTIFY_WORKERS, NOTIFY_THREADS = 1, 4
# Checkout sends the shopper to our payment page, named by the trade number.
PAYMENT_PAGE = re.compile(r"/payments/pay/([^/]+)/$")
COUPON_USED_UP = "优惠券已被领完"


@dataclass
class Outcome:
    result: str = "unfinished"  # delivered | out_of_stock | error: ...
    checkout_ms: float | None = None
    ordered_at: float | None = None  # when the checkout answered with an order
    notify_ms: float | None = None
    with_coupon: bool = False
    paid_to_codes_ms: float | None = None  # from the gateway's notification to the shopper seeing the codes
    trade_no: str = ""


def seed():
    """One visible product, one SKU, exactly CODES codes imported through the real service."""

    from catalog.models import Category, Product, Sku
    from catalog.services import import_codes
    from kamen.money import cny
    from orders.models import Coupon

    category = Category.objects.create(name="秒杀", slug="flash")
    product = Product.objects.create(
        category=category, title="秒杀点卡", status=Product.Status.APPROVED, is_on_shelf=True
    )
    sku = Sku.objects.create(product=product, name="100元面值", price=cny(PRICE))
    import_codes(sku, "\n".join(f"FLASH-{n:04d}-{n * 7919 % 10007:05d}" for n in range(CODES)))
    Coupon.objects.create(
        name="秒杀立减5元",
        code=COUPON_CODE,
        kind=Coupon.Kind.NO_THRESHOLD,
        amount_off=cny(COUPON_OFF),
        total_uses=COUPON_USES,
        uses_per_member=None,  # guests may use it
    )
    return sku


def buy(port: int, sku, n: int, arrives_at: float, outcome: Outcome) -> None:
    """One shopper's checkout, the gateway's notification for the order it got, then the wait for codes."""
    from kamen.money import cny
    from payments.providers.sandbox import build_notification

    shopper = Browser(port, timeout=REQUEST_TIMEOUT)
    time.sleep(max(0.0, arrives_at - time.perf_counter()))
    page = shopper.get(f"/p/{sku.product_id}/")
    token = form_token(page.body)
    if page.status != 200 or token is None:
        outcome.result = f"error: product page {page.status}, token {'found' if token else 'missing'}"
        return
    form = {
        "csrfmiddlewaretoken": token,
        "sku": str(sku.pk),
        "quantity": "1",
        "contact_email": f"buyer{n}@example.com",
        "lookup_password": f"lookup-{n}",
        "payment_method": "sandbox",
        "coupon_code": COUPON_CODE,
    }
    checkout = shopper.post("/orders/new/", form)
    outcome.with_coupon = checkout.status == 302
    if checkout.status == 400 and COUPON_USED_UP in checkout.body:
        # Too late for the coupon: the shopper checks out again without it, with the form's new token.
        form.update(coupon_code="", csrfmiddlewaretoken=form_token(checkout.body) or token)
        again = shopper.post("/orders/new/", form)
        again.ms += checkout.ms
        checkout = again
    outcome.checkout_ms = checkout.ms
    cashier = PAYMENT_PAGE.search(checkout.location) if checkout.status == 302 else None
    if checkout.status == 409:
        outcome.result = "out_of_stock"
        return
    if cashier is None:
        outcome.result = f"error: checkout {checkout.status} {checkout.location}"
        return
    outcome.ordered_at = time.perf_counter()
    outcome.trade_no = cashier.group(1)
    # The gateway knows the trade number and amount it was asked to collect; it signs with its key.
    amount = cny(sku.price.amount - Decimal(COUPON_OFF)) if outcome.with_coupon else sku.price
    payment = SimpleNamespace(pk=n, trade_no=outcome.trade_no, amount=amount)
    gateway = Browser(port, timeout=REQUEST_TIMEOUT)  # the gateway's server: its own connection, no cookies
    paid_at = time.perf_counter()
    notify = gateway.post("/payments/sandbox/notify/", build_notification(payment))
    gateway.close()
    outcome.notify_ms = notify.ms
    if not (notify.status == 200 and notify.body == "success"):
        outcome.result = f"error: notify {notify.status} {notify.body[:60]}"
        return
    outcome.result = wait_for_codes(shopper, outcome.trade_no)
    outcome.paid_to_codes_ms = (time.perf_counter() - paid_at) * 1000


def wait_for_codes(shopper: Browser, trade_no: str) -> str:
    """Poll as the payment and order pages do: the payment's state, then the order's, until delivered."""
    deadline = time.monotonic() + TIME_CAP
    order_status = None
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        if order_status is None:
            reply = json.loads(shopper.get(f"/payments/pay/{trade_no}/status/").body)
            if not reply["waiting"]:
                order_status = reply["next"].rstrip("/") + "/status/"
        else:
            reply = json.loads(shopper.get(order_status).body)
            if reply["status"] == "delivered":
                return "delivered"
            if not reply["waiting"]:
                return f"error: order {reply['status']}"
    return "error: codes never arrived"


def run_sale(port: int, sku) -> tuple[list[Outcome], float]:
    outcomes = [Outcome() for _ in range(BUYERS)]
    start = time.perf_counter() + 2.0  # every thread started and connected first

    def buyer(n: int) -> None:
        try:
            buy(port, sku, n, start + ARRIVAL_SECONDS * n / BUYERS, outcomes[n])
        except Exception as error:  # a timeout or dropped connection is a failed buyer, not a crash
            outcomes[n].result = f"error: {type(error).__name__}"

    threads = [threading.Thread(target=buyer, args=(n,), daemon=True) for n in range(BUYERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, start + TIME_CAP - time.perf_counter()))
    for outcome in outcomes:
        outcome.ordered_at = outcome.ordered_at and outcome.ordered_at - start
    return outcomes, time.perf_counter() - start


def start_worker(port: int) -> subprocess.Popen:
    from kamen.testing.outage import celery_command

    log_file = (OUT / "flash_sale-worker.log").open("w")
    env = {**app_env(port), "REDIS_URL": REDIS_URL}
    command = celery_command("worker", concurrency=2)
    return subprocess.Popen(command, env=env, stdout=log_file, stderr=log_file, start_new_session=True)


def audit(sku) -> dict:
    """What the database says was sold: every delivered order holds its own sold codes, none more."""
    from django.db.models import Count, Q, Sum

    from catalog.models import CardCode
    from orders.models import Coupon, CouponUse, Order

    delivered = Order.objects.filter(sku=sku, status=Order.Status.DELIVERED)
    delivered = delivered.annotate(sold=Count("codes", filter=Q(codes__status=CardCode.Status.SOLD)))
    sold = CardCode.objects.filter(sku=sku, status=CardCode.Status.SOLD)
    coupon = Coupon.objects.get(code=COUPON_CODE)
    coupon_uses = CouponUse.objects.filter(coupon=coupon, state__in=CouponUse.ACTIVE).count()
    delivered_quantity = delivered.aggregate(n=Sum("quantity"))["n"] or 0
    delivery = latency_figures(
        [(o.delivered_at - o.paid_at).total_seconds() * 1000 for o in delivered.only("paid_at", "delivered_at")]
    )
    return {
        "orders_in_db": Order.objects.filter(sku=sku).count(),
        "paid_not_delivered": Order.objects.filter(
            sku=sku, status__in=[Order.Status.PAID, Order.Status.AWAITING_MANUAL, Order.Status.DELIVERY_FAILED]
        ).count(),
        "orders_delivered": delivered.count(),
        "codes_sold": sold.count(),
        # A code has one order column, so a code sold twice leaves a delivered order short of its codes.
        "codes_sold_twice": sum(max(0, order.quantity - order.sold) for order in delivered),
        "oversold": sold.count() > CODES or delivered_quantity > CODES,
        "coupon_uses": coupon_uses,
        "coupon_limit": COUPON_USES,
        "coupon_uses_beyond_limit": max(0, coupon_uses - COUPON_USES, coupon.used_count - COUPON_USES),
        # In the database: from the payment's confirmation to the codes on the order (the worker's part).
        "confirmed_to_delivered_p50_ms": delivery["p50_ms"],
        "confirmed_to_delivered_p99_ms": delivery["p99_ms"],
    }


def main() -> None:
    fresh_database()
    flush_redis(REDIS_URL)
    setup_django({"REDIS_URL": REDIS_URL})
    sku = seed()
    # Behind nginx: the client address comes from X-Forwarded-For, and the sandbox, which serves only
    # requests made straight to a server on loopback, is on for everyone, as on a demo server.
    server_env = {"REDIS_URL": REDIS_URL, "TRUSTED_PROXY_COUNT": "1", "SANDBOX_PAYMENTS_ENABLED": "true"}
    notify_pool = running_server(
        workers=NOTIFY_WORKERS, threads=NOTIFY_THREADS, extra_env=server_env, name="flash_sale-notify"
    )
    with running_server(extra_env=server_env) as web_port, notify_pool as notify_port:
        worker = start_worker(web_port)
        try:
            with behind_nginx(web_port, notify_port) as port:
                time.sleep(3)  # the worker connected to the broker
                log(f"{BUYERS} buyers within {ARRIVAL_SECONDS:.0f} s, {CODES} codes: go")
                outcomes, seconds = run_sale(port, sku)
        finally:
            stop_group(worker, timeout=30)
    results = [o.result for o in outcomes]
    errors = [r for r in results if r not in ("delivered", "out_of_stock")]
    if errors:
        log(f"{len(errors)} failed buyers, e.g. {sorted(set(errors))[:5]}")
    figures = audit(sku)
    delivered = figures.pop("orders_delivered")
    checkout = latency_figures([o.checkout_ms for o in outcomes if o.checkout_ms is not None])
    notify = latency_figures([o.notify_ms for o in outcomes if o.notify_ms is not None])
    paid_to_codes = latency_figures([o.paid_to_codes_ms for o in outcomes if o.paid_to_codes_ms is not None])
    ordered = sorted(o.ordered_at for o in outcomes if o.ordered_at is not None)
    emit(
        {
            "bench": "flash_sale",
            "buyers": BUYERS,
            "arrival_seconds": ARRIVAL_SECONDS,
            "codes": CODES,
            "server": f"nginx; web {SERVER}; notifications gunicorn {NOTIFY_WORKERS}x{NOTIFY_THREADS}; worker -c 2",
            "orders_placed": len(ordered),
            "orders_delivered": delivered,
            "out_of_stock": results.count("out_of_stock"),
            "errors": len(errors),
            # While stock lasted: from the sale's start to the last order placed.
            "orders_per_minute": round(len(ordered) / max(ordered[-1], 0.001) * 60) if ordered else 0,
            "sold_out_after_seconds": round(ordered[-1], 2) if ordered else None,
            "checkout_p50_ms": checkout["p50_ms"],
            "checkout_p95_ms": checkout["p95_ms"],
            "notify_p95_ms": notify["p95_ms"],
            "notify_p99_ms": notify["p99_ms"],
            "paid_to_codes_p50_ms": paid_to_codes["p50_ms"],
            "paid_to_codes_p99_ms": paid_to_codes["p99_ms"],
            "seconds": round(seconds, 2),
            **figures,
        }
    )


if __name__ == "__main__":
    main()
