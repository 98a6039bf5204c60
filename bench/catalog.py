"""Catalog pages under concurrent load: the home page, category listings and product pages.

Seeds 10,000 approved on-shelf products in 20 two-level categories (1-3 SKUs each) and 100,000 free
card codes, serves kamen with gunicorn against PostgreSQL and GETs pages from 4, then 16, keep-alive
client threads: home `/`, listing `/c/<top category>/?page=1..50`, product `/p/<pk>/`. Prints p50/p95/p99
latency, requests per second and errors per page kind as one JSON line.

    .venv/bin/python bench/catalog.py      # BENCH_DATABASE_URL, BENCH_SECONDS (per page kind) optional
"""

import os
import random
import time

from common import SERVER, analyze_database, emit, fresh_database, hammer, log, running_server, setup_django

PRODUCTS = 10_000
CODES = 100_000
TOP_CATEGORIES = 4
CHILDREN_PER_TOP = 4  # 4 + 16 = 20 categories
# Latency at a moderate load, and throughput well past what two cores can serve without queueing.
CONCURRENCY_LEVELS = (4, 16)
SECONDS = float(os.environ.get("BENCH_SECONDS", 8))
MAX_REQUESTS = 50_000
LISTING_PAGES = 50


def seed(rng: random.Random) -> tuple[list[str], list[int]]:
    """Categories, products, SKUs and pre-encrypted codes in bulk; returns top slugs and product ids."""

    from catalog import crypto
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
    products = Product.objects.bulk_create(
        (
            Product(
                category=rng.choice(children),
                title=f"游戏点卡 {n} 号",
                description="自动发货，付款后立即可见卡密。" * 5,
                status=Product.Status.APPROVED,
                is_on_shelf=True,
                is_hot=n % 100 == 0,
            )
            for n in range(PRODUCTS)
        ),
        batch_size=2000,
    )
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


def main() -> None:
    rng = random.Random(42)
    fresh_database()
    setup_django()
    started = time.perf_counter()
    top_slugs, product_ids = seed(rng)
    analyze_database()
    log(f"seeded in {time.perf_counter() - started:.1f} s")

    kinds = {
        "home": lambda r: "/",
        "listing": lambda r: f"/c/{r.choice(top_slugs)}/?page={r.randint(1, LISTING_PAGES)}",
        "product": lambda r: f"/p/{r.choice(product_ids)}/",
    }
    figures = {
        "bench": "catalog",
        "products": PRODUCTS,
        "codes": CODES,
        "concurrency": list(CONCURRENCY_LEVELS),
        "server": SERVER,
    }
    with running_server() as port:
        for next_path in kinds.values():  # warm every worker's templates, caches and connections
            hammer(port, next_path, threads=max(CONCURRENCY_LEVELS), seconds=SECONDS, max_requests=100)
        for kind, next_path in kinds.items():
            figures[kind] = {}
            for clients in CONCURRENCY_LEVELS:
                log(f"{kind}: {clients} clients for {SECONDS:.0f} s")
                figures[kind][f"c{clients}"] = hammer(
                    port, next_path, threads=clients, seconds=SECONDS, max_requests=MAX_REQUESTS
                )
    emit(figures)


if __name__ == "__main__":
    main()
