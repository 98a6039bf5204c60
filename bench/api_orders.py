"""API orders: signed orders per second and their latency through /api/v1/ with concurrent clients,
and the seconds from payment to delivered for an upstream Sku bought from a second local kamen.

Part one: gunicorn serves the shop; CLIENTS threads, each a reseller's program with its own API key
(kamen.client.KamenClient: signed requests, keep-alive), place orders of one code paid from their
wallets. Delivery runs inside each request (no broker), so every answer is a delivered order.

Part two: a second kamen (gunicorn on a database of its own) is the upstream supplier of the first.
This process is the first shop: a shopper's order of the upstream Sku is confirmed as a payment
notification would confirm it, delivery follows on commit, which buys the code from the second shop
through /api/v1/ and stores it here. Measured from confirmation to the order delivered, first with a
healthy supplier, then with a first supplier that is down (its port closed) ahead of it.

    .venv/bin/python bench/api_orders.py     # BENCH_DATABASE_URL optional
"""

import json
import subprocess
import sys
import threading
import time
import urllib.parse

from common import (
    DATABASE_URL,
    ROOT,
    _admin_connection,
    app_env,
    emit,
    free_port,
    fresh_database,
    latency_figures,
    log,
    percentile,
    running_server,
    setup_django,
)

CLIENTS = 16
SECONDS = 20
MAX_ORDERS = 4000
END_TO_END = 200
UPSTREAM_DATABASE_URL = DATABASE_URL.rstrip("/") + "_upstream"
SEED_UPSTREAM = """
import json
from djmoney.money import Money
from accounts.api_keys import create_api_key
from accounts.services import credit_wallet
from kamen.testing import factories
sku = factories.SkuFactory(price="8.00", product__title="网易一卡通", name="30元", product__max_per_order=10)
factories.stock(sku, %(codes)d, prefix="UP")
reseller = factories.UserFactory(email="downstream@bench.local")
credit_wallet(reseller, Money("100000.00", "CNY"), actor=None, note="prepaid")
made = create_api_key(reseller, name="downstream shop")
print(json.dumps({"sku": sku.pk, "key": made.key.key_id, "secret": made.secret}))
"""
# No rate limit in the way, and delivery e-mails kept in memory rather than printed among the figures.
NO_LIMIT = {"API_RATE_LIMIT": "1000000/min", "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}


def main() -> None:
    fresh_database()
    setup_django(NO_LIMIT)
    throughput = _api_throughput()
    end_to_end = _end_to_end()
    emit({"bench": "api_orders", **throughput, **end_to_end})


def _api_throughput() -> dict:
    from djmoney.money import Money

    from accounts.api_keys import create_api_key
    from accounts.services import credit_wallet
    from kamen.client import ApiError, KamenClient
    from kamen.testing import factories

    sku = factories.SkuFactory(price="10.00", product__max_per_order=10)
    factories.stock(sku, MAX_ORDERS + 100)
    keys = []
    for n in range(CLIENTS):
        reseller = factories.UserFactory(email=f"reseller{n}@bench.local")
        credit_wallet(reseller, Money("1000000.00", "CNY"), actor=None, note="bench")
        made = create_api_key(reseller, name="bench")
        keys.append((made.key.key_id, made.secret))
    latencies, errors = [], []
    sent = iter(range(MAX_ORDERS))
    with running_server(extra_env=NO_LIMIT) as port:
        deadline = time.monotonic() + SECONDS

        def program(index: int) -> None:
            key, secret = keys[index]
            client = KamenClient(f"http://127.0.0.1:{port}", key=key, secret=secret, timeout=30)
            while time.monotonic() < deadline and (n := next(sent, None)) is not None:
                started = time.perf_counter()
                try:
                    answer = client.create_order(sku=sku.pk, quantity=1, client_order_no=f"B{index}-{n}")
                except (ApiError, OSError, Exception) as error:  # counted, never fatal
                    errors.append(type(error).__name__)
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if answer["status"] != "delivered":
                    errors.append(f"status {answer['status']}")

        started = time.perf_counter()
        threads = [threading.Thread(target=program, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    log(f"{len(latencies)} API orders in {wall:.1f} s, errors {len(errors)}")
    figures = latency_figures(latencies)
    return {
        "api_clients": CLIENTS,
        "api_orders": len(latencies),
        "api_orders_per_second": round(len(latencies) / wall, 1),
        "api_p50_ms": figures["p50_ms"],
        "api_p95_ms": figures["p95_ms"],
        "api_errors": len(errors),
    }


def _upstream_env(port: int) -> dict:
    return {**app_env(port), "DATABASE_URL": UPSTREAM_DATABASE_URL, "API_CALLBACKS_TO_PRIVATE_ADDRESSES": "true"}


def _prepare_upstream() -> dict:
    name = urllib.parse.urlsplit(UPSTREAM_DATABASE_URL).path.lstrip("/")
    connection = _admin_connection()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    env = {**_upstream_env(0), **NO_LIMIT}
    run = [sys.executable, "manage.py"]
    subprocess.run([*run, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, stdout=sys.stderr)
    seed = SEED_UPSTREAM % {"codes": 2 * END_TO_END + 50}
    output = subprocess.run([*run, "shell", "-c", seed], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def _end_to_end() -> dict:
    from catalog import crypto
    from catalog.models import Product, Sku, Supplier, SupplierProduct
    from catalog.supply import sync_supplier
    from kamen.testing import factories
    from orders.models import Order

    upstream = _prepare_upstream()
    with running_server(extra_env={**_upstream_env(0), **NO_LIMIT}, name="api_orders-upstream") as port:
        healthy = Supplier(
            name="上游卡盟", adapter="kamen", base_url=f"http://127.0.0.1:{port}", account=upstream["key"]
        )
        healthy.secret_encrypted = crypto.encrypt(upstream["secret"])
        healthy.priority = 10
        healthy.save()
        assert not sync_supplier(healthy).error
        row = SupplierProduct.objects.get(supplier=healthy, code=str(upstream["sku"]))
        Product.objects.filter(pk=row.sku.product_id).update(status=Product.Status.APPROVED, is_on_shelf=True)
        sku = Sku.objects.get(pk=row.sku_id)
        timings = {"healthy": _buy_many(factories, Order, sku, END_TO_END // 2)}
        # A first supplier ahead of it whose port is closed: every order fails over.
        down = Supplier(name="宕机上游", adapter="kamen", base_url=f"http://127.0.0.1:{free_port()}", account="ak_x")
        down.secret_encrypted = crypto.encrypt("x")
        down.priority = 1
        down.save()
        SupplierProduct.objects.create(supplier=down, sku=sku, code=str(upstream["sku"]), cost=row.cost, stock=None)
        timings["first_down"] = _buy_many(factories, Order, sku, END_TO_END // 2)
    figures = {}
    for kind, seconds in timings.items():
        ordered = sorted(seconds)
        figures[f"upstream_{kind}_p50_s"] = round(percentile(ordered, 0.5), 3)
        figures[f"upstream_{kind}_p99_s"] = round(percentile(ordered, 0.99), 3)
        figures[f"upstream_{kind}_max_s"] = round(ordered[-1], 3)
    figures["upstream_orders"] = sum(len(v) for v in timings.values())
    return figures


def _buy_many(factories, Order, sku, count: int) -> list[float]:  # noqa: N803 - the model class
    seconds = []
    for _ in range(count):
        placed = factories.place_order(sku, quantity=1)
        started = time.perf_counter()
        factories.confirm(placed.payment)  # delivery follows on commit, inline (no broker)
        seconds.append(time.perf_counter() - started)
        order = Order.objects.get(pk=placed.order.pk)
        assert order.status == Order.Status.DELIVERED, (order.status, order.abnormal_reason)
    log(f"{count} upstream orders, p99 {percentile(sorted(seconds), 0.99):.3f} s")
    return seconds


if __name__ == "__main__":
    main()
