"""The admin dashboard over two years of business: 1,000,000 orders, 20,000 members, 730 summary days.

Seeds the orders in bulk (one INSERT … SELECT over generate_series: the ORM would take an hour for a
million rows), the payments of the last 30 days, then writes every day's summary with the nightly job's
own `summarize_day`. Then it renders the admin's first page for a signed-in superuser through Django's
whole request path (middleware, the dashboard's live "today", the template), and reports p50 / p95 of
the render and its query count. Goal: p95 under 100 ms.

    .venv/bin/python bench/dashboard.py     # BENCH_DATABASE_URL optional
"""

import datetime
import statistics
import time

from common import OUT, analyze_database, emit, fresh_database, log, manage, setup_django

ORDERS = 1_000_000
MEMBERS = 20_000
PRODUCTS = 50
DAYS = 730
RENDERS = 60


def seed_catalog() -> tuple[int, int]:
    from catalog.models import Category, Product, Sku
    from kamen.money import cny

    category = Category.objects.create(name="游戏点卡", slug="games")
    products = Product.objects.bulk_create(
        Product(category=category, title=f"点卡 {n:02d}", status=Product.Status.APPROVED, is_on_shelf=True)
        for n in range(PRODUCTS)
    )
    skus = Sku.objects.bulk_create(
        Sku(product=product, name="面值", price=cny("10.00"), cost=cny("8.00"), low_stock_at=10) for product in products
    )
    return skus[0].pk, products[0].pk


def seed_members() -> int:
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import User

    password = make_password("bench-member")
    now = timezone.now()
    members = User.objects.bulk_create(
        User(
            email=f"m{n}@example.com",
            password=password,
            date_joined=now - datetime.timedelta(seconds=n * DAYS * 86400 // MEMBERS),
        )
        for n in range(MEMBERS)
    )
    return members[-1].pk  # ids rise as date_joined falls


def seed_orders(first_sku: int, last_member: int) -> None:
    """A million orders, one every 63 seconds back over two years; nine in ten paid and delivered."""
    from django.db import connection

    from orders.models import Order

    every = DAYS * 86400 // ORDERS
    sql = {
        "number": "'B' || lpad(i::text, 20, '0')",
        "access_token": "md5(i::text)",
        "user_id": f"{last_member - MEMBERS + 1} + (i * 7919) % {MEMBERS}",
        "contact_email": "'b' || i || '@example.com'",
        "sku_id": f"{first_sku} + (i * 31) % {PRODUCTS}",
        "product_title": f"'点卡 ' || lpad(((i * 31) % {PRODUCTS})::text, 2, '0')",
        "sku_name": "'面值'",
        "quantity": "1 + i % 3",
        "unit_price": "10.00",
        "total": "10.00 * (1 + i % 3)",
        "payment_method": "CASE WHEN i % 4 = 0 THEN 'balance' ELSE 'alipay' END",
        "status": "CASE WHEN i % 10 = 0 THEN 'expired' ELSE 'delivered' END",
        "created_at": f"now() - make_interval(secs => i * {every})",
        "expires_at": f"now() - make_interval(secs => i * {every}) + interval '15 minutes'",
        "paid_at": f"CASE WHEN i % 10 = 0 THEN NULL ELSE now() - make_interval(secs => i * {every} - 30) END",
        "delivered_at": f"CASE WHEN i % 10 = 0 THEN NULL ELSE now() - make_interval(secs => i * {every} - 32) END",
    }
    columns, values = [], []
    for model_field in Order._meta.concrete_fields:
        if model_field.primary_key:
            continue
        columns.append(f'"{model_field.column}"')
        if model_field.attname in sql:
            values.append(sql[model_field.attname])
        elif model_field.column.endswith("_currency"):
            values.append("'CNY'")
        else:
            values.append(_literal(model_field))
    statement = (
        f'INSERT INTO "{Order._meta.db_table}" ({", ".join(columns)}) '
        f"SELECT {', '.join(values)} FROM generate_series(1::bigint, {ORDERS}) AS i"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement)


def _literal(model_field) -> str:
    import json

    from django.db import models

    if model_field.null:
        return "NULL"
    default = model_field.get_default()
    if isinstance(model_field, models.JSONField):
        return f"'{json.dumps(default)}'::jsonb"
    if isinstance(model_field, models.BooleanField):
        return "TRUE" if default else "FALSE"
    if isinstance(default, int | float) or hasattr(default, "amount"):
        return str(getattr(default, "amount", default) or 0)
    return "'" + str(default or "").replace("'", "''") + "'"


def seed_recent_payments() -> int:
    """The payments of the last 30 days' orders: the dashboard's live day and provider rates read them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH recent AS (
                SELECT id, total, payment_method, created_at, paid_at, user_id, number FROM orders_order
                WHERE created_at >= now() - interval '30 days'
            ), made AS (
                INSERT INTO payments_payment (purpose, user_id, description, reference, provider, amount,
                    amount_currency, trade_no, gateway_trade_no, payer_account, state, qr_content,
                    created_at, expires_at, confirmed_at)
                SELECT 'order', user_id, '点卡', number, payment_method, total, 'CNY', 'T' || number, '', '',
                    CASE WHEN paid_at IS NULL THEN 'cancelled' ELSE 'confirmed' END, '',
                    created_at, created_at + interval '15 minutes', paid_at
                FROM recent
                RETURNING id, reference
            )
            INSERT INTO orders_orderpayment (order_id, payment_id)
            SELECT recent.id, made.id FROM made JOIN recent ON recent.number = made.reference
            """
        )
        return cursor.rowcount


def backfill_summaries() -> float:
    from backoffice import services
    from backoffice.figures import shop_today

    today = shop_today()
    started = time.perf_counter()
    for back in range(DAYS, 0, -1):
        services.summarize_day(today - datetime.timedelta(days=back))
    return time.perf_counter() - started


def render_dashboard() -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from accounts.second_factor import give_authenticator

    OUT.mkdir(exist_ok=True)
    manage("collectstatic", "--noinput", "-v", "0")  # DEBUG off: pages name the hashed static files
    admin = User.objects.create_superuser("boss@example.com", "bench-boss-2026")
    give_authenticator(admin, "KAMENBENCHKAMENBENCHKAMENBENCHKA")
    client = Client(HTTP_HOST="127.0.0.1")  # a host the shop answers to
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200  # warm: templates, translations, the settings row
    times = []
    for _ in range(RENDERS):
        started = time.perf_counter()
        response = client.get("/admin/")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and b"kd-dashboard" in response.content
    with CaptureQueriesContext(connection) as queries:
        client.get("/admin/")
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        "max_ms": round(times[-1], 1),
        "queries": len(queries),
    }


def main() -> None:
    fresh_database()
    # DEBUG stays off (the server's setting): Django then keeps no list of every query in memory.
    setup_django({"STAFF_REQUIRE_2FA": "true"})

    first_sku, _ = seed_catalog()
    last_member = seed_members()
    log(f"seeding {ORDERS} orders over {DAYS} days")
    started = time.perf_counter()
    seed_orders(first_sku, last_member)
    payments = seed_recent_payments()
    seed_seconds = time.perf_counter() - started
    log(f"seeded in {seed_seconds:.0f} s ({payments} recent payments); analyzing")
    analyze_database()
    log(f"writing {DAYS} daily summaries")
    backfill_seconds = backfill_summaries()
    log(f"summaries in {backfill_seconds:.0f} s; rendering the dashboard {RENDERS} times")
    figures = render_dashboard()
    emit(
        {
            "bench": "dashboard",
            "orders": ORDERS,
            "members": MEMBERS,
            "days": DAYS,
            "seed_seconds": round(seed_seconds, 1),
            "summary_job_ms_per_day": round(backfill_seconds * 1000 / DAYS, 1),
            "render_p50_ms": figures["p50_ms"],
            "render_p95_ms": figures["p95_ms"],
            "render_max_ms": figures["max_ms"],
            "render_queries": figures["queries"],
            "goal_p95_ms": 100,
        }
    )


if __name__ == "__main__":
    main()
