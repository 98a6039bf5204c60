"""Catalog pages under load, side by side with the practical limit: a minimal Django view of the same rows.

Seeds 10,000 approved on-shelf products in 20 two-level categories (1-3 SKUs each) and 100,000 free
card codes, serves kamen with gunicorn against PostgreSQL with its cache on Redis, as deployed, and
loads it with wrk (installed from apt if missing) from 4, then 16 keep-alive connections: home `/`,
listing `/c/<top category>/?page=1..50`, product pages of the thousand best sellers and of any
product, search `/search/?q=...` (Chinese words). Then again at 16 connections while guest checkouts
through the server hold codes 20 times a second (stock changing under the cached pages, and the
checkouts' own work on the same two cores). Then the same pages from `bench/minimal_site.py` under
the same gunicorn settings: `ratio_to_minimal` is kamen's requests per second over the minimal
site's, per page kind, at 16. Listing and product pages are loaded again by a signed-in 白银会员 (95折),
whose pages are cached apart from the visitors' (warmed the same way): `member_p95_ratio_c4/c16` is
their p95 over the visitors'.

Prints p50/p95/p99 latency, requests per second and errors per page kind as one JSON line.

    .venv/bin/python bench/catalog.py      # BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_SECONDS optional
"""

import os
import random
import threading
import time
from urllib.parse import quote

from common import (
    CODES,
    HOT_PRODUCTS,
    PRODUCTS,
    SEARCHES,
    SERVER,
    Browser,
    analyze_database,
    emit,
    flush_redis,
    form_token,
    fresh_database,
    log,
    member_session,
    running_server,
    seed_catalog,
    setup_django,
    wrk,
)

# Latency at a moderate load, and throughput well past what two cores can serve without queueing.
CONCURRENCY_LEVELS = (4, 16)
SECONDS = float(os.environ.get("BENCH_SECONDS", 8))
LISTING_PAGES = 50
RESERVATIONS_PER_SECOND = 20
HOLDERS = 4
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
# Page kinds also loaded by a signed-in member of a discounted level, whose prices differ.
MEMBER_KINDS = ("listing", "product", "product_any")


def hold_codes_meanwhile(port: int, product_ids: list[int], stop: threading.Event, held: list[int], seed: int) -> None:
    """Guest checkouts through the server, each holding one code, RESERVATIONS_PER_SECOND / HOLDERS a second.

    Real checkouts (product page, then the checkout form), so the server does what a sale makes it do
    and the bench process stays light.
    """
    from django.db import connection

    from catalog.models import Sku

    skus = dict(
        Sku.objects.filter(product_id__in=product_ids, codes__status="available")
        .values_list("product_id", "pk")
        .distinct()
    )
    connection.close()
    rng = random.Random(seed)
    interval = HOLDERS / RESERVATIONS_PER_SECOND
    next_at = time.monotonic()
    while not stop.is_set():
        product_id = rng.choice(list(skus))
        shopper = Browser(port)
        token = form_token(shopper.get(f"/p/{product_id}/").body)
        form = {
            "csrfmiddlewaretoken": token or "",
            "sku": str(skus[product_id]),
            "quantity": "1",
            "contact_email": "bench@example.com",
            "lookup_password": "bench-1234",
            "payment_method": "sandbox",
        }
        if shopper.post("/orders/new/", form).status == 302:
            held.append(product_id)
        shopper.close()
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


def visit_once(port: int, paths: list[str], clients: int = 8, cookie: str = "") -> None:
    """GET every distinct path once, from `clients` threads (as the signed-in member of `cookie`)."""
    pending = iter(sorted(set(paths)))
    lock = threading.Lock()
    name, _, value = cookie.partition("=")

    def client() -> None:
        browser = Browser(port, cookies={name: value} if cookie else {})
        while True:
            with lock:
                path = next(pending, None)
            if path is None:
                break
            browser.get(path)
        browser.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def page_sizes(port: int, paths: dict[str, list[str]]) -> dict[str, int]:
    browser = Browser(port)
    sizes = {kind: len(browser.get(kind_paths[0]).body.encode()) for kind, kind_paths in paths.items()}
    browser.close()
    return sizes


def main() -> None:
    rng = random.Random(42)
    fresh_database()
    flush_redis(REDIS_URL)
    setup_django({"REDIS_URL": REDIS_URL})  # the bench's own checkouts bump the stock versions the server reads
    started = time.perf_counter()
    top_slugs, product_ids = seed_catalog(rng)
    cookie = member_session()  # a 白银会员 (95折) signed in
    analyze_database()
    log(f"seeded in {time.perf_counter() - started:.1f} s")

    kinds = {
        "home": lambda r: "/",
        "listing": lambda r: f"/c/{r.choice(top_slugs)}/?page={r.randint(1, LISTING_PAGES)}",
        # Shoppers crowd onto the best sellers: product pages are drawn from a thousand of them;
        # "product_any" draws from all 10,000, most of them not viewed lately (rendered, not cached).
        "product": lambda r: f"/p/{r.choice(product_ids[:HOT_PRODUCTS])}/",
        "product_any": lambda r: f"/p/{r.choice(product_ids)}/",
        "search": lambda r: f"/search/?q={r.choice(SEARCHES)}&page={r.randint(1, 5)}",
    }
    paths = {}
    for kind, next_path in kinds.items():
        kind_rng = random.Random(kind)
        paths[kind] = [quote(next_path(kind_rng), safe="/?=&") for _ in range(5000)]
    figures = {
        "bench": "catalog",
        "products": PRODUCTS,
        "codes": CODES,
        "concurrency": list(CONCURRENCY_LEVELS),
        "server": SERVER,
        "load_generator": "wrk",
    }
    with running_server(extra_env={"REDIS_URL": REDIS_URL}) as port:
        for kind in kinds:  # warm every worker's templates and connections, and the page cache
            wrk(port, paths[kind], connections=16, seconds=2)
            if kind != "product_any":
                visit_once(port, paths[kind])
        sizes = page_sizes(port, paths)
        for kind in kinds:
            figures[kind] = {}
            for connections in CONCURRENCY_LEVELS:
                log(f"{kind}: {connections} connections for {SECONDS:.0f} s")
                figures[kind][f"c{connections}"] = wrk(port, paths[kind], connections=connections, seconds=SECONDS)
        for kind in MEMBER_KINDS:
            wrk(port, paths[kind], connections=16, seconds=2, cookie=cookie)
            if kind != "product_any":
                visit_once(port, paths[kind], cookie=cookie)  # the level's own pages cached, as for visitors
            for connections in CONCURRENCY_LEVELS:
                log(f"{kind}: a signed-in member, {connections} connections for {SECONDS:.0f} s")
                member = wrk(port, paths[kind], connections=connections, seconds=SECONDS, cookie=cookie)
                anonymous = figures[kind][f"c{connections}"]
                figures[kind][f"member_c{connections}"] = member
                figures[kind][f"member_p95_ratio_c{connections}"] = round(
                    member["p95_ms"] / max(anonymous["p95_ms"], 0.1), 2
                )
        stop, held = threading.Event(), []
        on_sale = product_ids[:HOT_PRODUCTS]
        # Several shoppers at a time: one alone could not keep the pace once pages slow down.
        holders = [
            threading.Thread(target=hold_codes_meanwhile, args=(port, on_sale, stop, held, seed), daemon=True)
            for seed in range(HOLDERS)
        ]
        for holder in holders:
            holder.start()
        try:
            for kind in kinds:
                log(f"{kind}: 16 connections while checkouts hold codes")
                figures[kind]["c16_while_holding_codes"] = wrk(port, paths[kind], connections=16, seconds=SECONDS)
        finally:
            stop.set()
            for holder in holders:
                holder.join()
        figures["codes_held_meanwhile_per_second"] = round(len(held) / (SECONDS * len(kinds)), 1)

    minimal_env = {f"BENCH_PAGE_BYTES_{kind.upper()}": str(size) for kind, size in sizes.items()}
    with running_server(app="bench.minimal_site:application", extra_env=minimal_env) as port:
        for kind in kinds:
            wrk(port, paths[kind], connections=16, seconds=2)
        for kind in kinds:
            log(f"minimal {kind}: 16 connections for {SECONDS:.0f} s")
            minimal = wrk(port, paths[kind], connections=16, seconds=SECONDS)
            figures[kind]["minimal_c16"] = minimal
            figures[kind]["ratio_to_minimal"] = round(figures[kind]["c16"]["rps"] / max(minimal["rps"], 0.1), 2)
            figures[kind]["page_bytes"] = sizes[kind]
    emit(figures)


if __name__ == "__main__":
    main()
