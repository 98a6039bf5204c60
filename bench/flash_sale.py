"""Flash sale: 500 buyers race for 100 card codes through the real HTTP checkout and payment callback.

One product with one SKU and exactly 100 codes. 500 buyer threads, each with its own cookie jar, start
together: GET the product page (CSRF cookie and form token), POST /orders/new/ (302 to the sandbox
cashier = an order; 400 = out of stock). For every order the bench then plays the gateway: it POSTs a
notification signed with the sandbox key to /payments/sandbox/notify/ (delivery runs eagerly in that
request). Afterwards the database is checked: no code sold twice, no more than 100 sold. Prints one
JSON line.

    .venv/bin/python bench/flash_sale.py   # BENCH_DATABASE_URL optional
"""

import re
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace

from common import SERVER, Browser, emit, form_token, fresh_database, latency_figures, log, running_server, setup_django

BUYERS = 500
CODES = 100
PRICE = "30.00"
TIME_CAP = 120  # seconds for the whole sale; buyers still waiting then count as errors
REQUEST_TIMEOUT = 100
# Checkout sends the shopper to our payment page, named by the trade number.
PAYMENT_PAGE = re.compile(r"/payments/pay/([^/]+)/$")


@dataclass
class Outcome:
    result: str = "unfinished"  # delivered | out_of_stock | error: ...
    checkout_ms: float | None = None
    notify_ms: float | None = None
    trade_no: str = ""


def seed():
    """One visible product, one SKU, exactly CODES codes imported through the real service."""

    from catalog.models import Category, Product, Sku
    from catalog.services import import_codes
    from kamen.money import cny

    category = Category.objects.create(name="秒杀", slug="flash")
    product = Product.objects.create(
        category=category, title="秒杀点卡", status=Product.Status.APPROVED, is_on_shelf=True
    )
    sku = Sku.objects.create(product=product, name="100元面值", price=cny(PRICE))
    import_codes(sku, "\n".join(f"FLASH-{n:04d}-{n * 7919 % 10007:05d}" for n in range(CODES)))
    return sku


def buy(port: int, sku, n: int, barrier: threading.Barrier, outcome: Outcome) -> None:
    """One shopper's checkout, then the gateway's notification for the order it got."""
    from payments.providers.sandbox import build_notification

    shopper = Browser(port, timeout=REQUEST_TIMEOUT)
    barrier.wait()
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
    }
    checkout = shopper.post("/orders/new/", form)
    outcome.checkout_ms = checkout.ms
    cashier = PAYMENT_PAGE.search(checkout.location) if checkout.status == 302 else None
    if checkout.status == 400:
        outcome.result = "out_of_stock"
        return
    if cashier is None:
        outcome.result = f"error: checkout {checkout.status} {checkout.location}"
        return
    outcome.trade_no = cashier.group(1)
    # The gateway knows the trade number and amount it was asked to collect; it signs with its key.
    payment = SimpleNamespace(pk=n, trade_no=outcome.trade_no, amount=sku.price)
    gateway = Browser(port, timeout=REQUEST_TIMEOUT)  # the gateway's server: its own connection, no cookies
    notify = gateway.post("/payments/sandbox/notify/", build_notification(payment))
    gateway.close()
    outcome.notify_ms = notify.ms
    accepted = notify.status == 200 and notify.body == "success"
    outcome.result = "delivered" if accepted else f"error: notify {notify.status} {notify.body[:60]}"


def run_sale(port: int, sku) -> tuple[list[Outcome], float]:
    outcomes = [Outcome() for _ in range(BUYERS)]
    barrier = threading.Barrier(BUYERS + 1)

    def buyer(n: int) -> None:
        try:
            buy(port, sku, n, barrier, outcomes[n])
        except Exception as error:  # a timeout or dropped connection is a failed buyer, not a crash
            outcomes[n].result = f"error: {type(error).__name__}"

    threads = [threading.Thread(target=buyer, args=(n,), daemon=True) for n in range(BUYERS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(max(0.0, started + TIME_CAP - time.perf_counter()))
    return outcomes, time.perf_counter() - started


def audit(sku) -> dict:
    """What the database says was sold: every delivered order holds its own sold codes, none more."""
    from django.db.models import Count, Q, Sum

    from catalog.models import CardCode
    from orders.models import Order

    delivered = Order.objects.filter(sku=sku, status=Order.Status.DELIVERED)
    delivered = delivered.annotate(sold=Count("codes", filter=Q(codes__status=CardCode.Status.SOLD)))
    sold = CardCode.objects.filter(sku=sku, status=CardCode.Status.SOLD)
    delivered_quantity = delivered.aggregate(n=Sum("quantity"))["n"] or 0
    return {
        "orders_in_db": Order.objects.filter(sku=sku).count(),
        "orders_delivered": delivered.count(),
        "codes_sold": sold.count(),
        # A code has one order column, so a code sold twice leaves a delivered order short of its codes.
        "codes_sold_twice": sum(max(0, order.quantity - order.sold) for order in delivered),
        "oversold": sold.count() > CODES or delivered_quantity > CODES,
    }


def main() -> None:
    fresh_database()
    setup_django()
    sku = seed()
    with running_server() as port:
        log(f"{BUYERS} buyers, {CODES} codes: go")
        outcomes, seconds = run_sale(port, sku)
    results = [o.result for o in outcomes]
    errors = [r for r in results if r not in ("delivered", "out_of_stock")]
    if errors:
        log(f"{len(errors)} failed buyers, e.g. {sorted(set(errors))[:5]}")
    figures = audit(sku)
    delivered = figures.pop("orders_delivered")
    checkout = latency_figures([o.checkout_ms for o in outcomes if o.checkout_ms is not None])
    notify = latency_figures([o.notify_ms for o in outcomes if o.notify_ms is not None])
    emit(
        {
            "bench": "flash_sale",
            "buyers": BUYERS,
            "codes": CODES,
            "concurrency": BUYERS,
            "server": SERVER,
            "orders_placed": sum(1 for o in outcomes if o.trade_no),
            "orders_delivered": delivered,
            "out_of_stock": results.count("out_of_stock"),
            "errors": len(errors),
            "checkout_p50_ms": checkout["p50_ms"],
            "checkout_p95_ms": checkout["p95_ms"],
            "notify_p95_ms": notify["p95_ms"],
            "seconds": round(seconds, 2),
            "orders_per_second": round(delivered / seconds, 1),
            **figures,
        }
    )


if __name__ == "__main__":
    main()
