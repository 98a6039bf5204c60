"""How many shoppers one two-core machine serves: an open-model mixed load, stepped up until it fails.

Seeds the page benchmarks' catalogue (10,000 products, 100,000 codes), serves kamen with gunicorn
(cache on Redis) behind the shipped nginx configuration, and sends a mix of what shoppers open — 60%
product pages (of the thousand best sellers), 25% category listings, 10% the home page, 5% Chinese
searches — at a constant rate from wrk: each of many connections waits a random (exponential) time
between requests, so arrivals do not slow down when the server does. The rate steps up; a step
passes with p95 under 200 ms, no errors and at least 90% of the offered rate served. Reports every
step, the highest passing rate (`highest_rate_rps`) and the shoppers it serves at 10 s of think time
between pages (Little's law: rate x think time).

    .venv/bin/python bench/load.py      # BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_STEP_SECONDS optional
"""

import os
import random
from urllib.parse import quote

from common import (
    HOT_PRODUCTS,
    SEARCHES,
    SERVER,
    analyze_database,
    behind_nginx,
    emit,
    flush_redis,
    fresh_database,
    log,
    running_server,
    seed_catalog,
    setup_django,
    wrk,
)

RATES = (100, 200, 300, 400, 500, 600, 800, 1000, 1200)
STEP_SECONDS = float(os.environ.get("BENCH_STEP_SECONDS", 10))
P95_LIMIT_MS = 200
THINK_SECONDS = 10
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
MIX = (("product", 60), ("listing", 25), ("home", 10), ("search", 5))


def mixed_paths(rng: random.Random, top_slugs: list[str], product_ids: list[int], count: int = 20_000) -> list[str]:
    draw = {
        "product": lambda: f"/p/{rng.choice(product_ids[:HOT_PRODUCTS])}/",
        "listing": lambda: f"/c/{rng.choice(top_slugs)}/?page={rng.randint(1, 50)}",
        "home": lambda: "/",
        "search": lambda: f"/search/?q={rng.choice(SEARCHES)}",
    }
    kinds = rng.choices([kind for kind, _ in MIX], weights=[share for _, share in MIX], k=count)
    return [quote(draw[kind](), safe="/?=&") for kind in kinds]


def main() -> None:
    rng = random.Random(42)
    fresh_database()
    flush_redis(REDIS_URL)
    setup_django({"REDIS_URL": REDIS_URL})
    top_slugs, product_ids = seed_catalog(rng)
    analyze_database()
    paths = mixed_paths(rng, top_slugs, product_ids)

    steps = []
    with running_server(extra_env={"REDIS_URL": REDIS_URL}) as web_port, behind_nginx(web_port) as port:
        log("warming: every page of the mix once")
        wrk(port, sorted(set(paths)), connections=16, seconds=20)
        for rate in RATES:
            connections = max(64, rate // 2)  # enough that arrivals never wait for a free connection
            log(f"{rate} requests/s from {connections} connections for {STEP_SECONDS:.0f} s")
            figures = wrk(port, paths, connections=connections, seconds=STEP_SECONDS, rate=rate)
            figures["offered_rps"] = rate
            # Served as offered, too: a server that falls behind would otherwise be measured at a lower rate.
            kept_up = figures["rps"] >= 0.9 * rate
            figures["passed"] = figures["p95_ms"] < P95_LIMIT_MS and figures["errors"] == 0 and kept_up
            steps.append(figures)
            if not figures["passed"]:
                break
    passing = [step["offered_rps"] for step in steps if step["passed"]]
    highest = max(passing, default=0)
    emit(
        {
            "bench": "load",
            "server": f"nginx in front of {SERVER}",
            "load_generator": "wrk, open model (exponential gaps per connection)",
            "mix": dict(MIX),
            "p95_limit_ms": P95_LIMIT_MS,
            "steps": steps,
            "highest_rate_rps": highest,
            "shoppers_at_10s_think_time": highest * THINK_SECONDS,
        }
    )


if __name__ == "__main__":
    main()
