"""Commissions: payment confirmations per second with a three-level upline against none, in the same
run, and the beat job's settlement of 100,000 pending commissions.

Confirmations run the real `payments.services.confirm_payment` (the order paid, its coupon, points
and levels, and for a buyer with an upline the three commissions and their ledger entries) in this
process against the PostgreSQL bench database. The rounds alternate between the two kinds of buyer,
so both see the same machine. Delivery, which follows on commit, is left out: it is the same for
both and not what is measured. Settlement runs `settle_due_commissions` over 100,000 commissions of
delivered orders past their hold, spread over 1,000 earners.

    .venv/bin/python bench/commissions.py     # BENCH_DATABASE_URL optional
"""

import time
from datetime import timedelta

from common import emit, fresh_database, log, setup_django

ROUNDS = 10
PER_ROUND = 60
SETTLE = 100_000
EARNERS = 1_000


def main() -> None:
    fresh_database()
    setup_django()
    from django.utils import timezone

    import orders.services.delivery as delivery
    from kamen.testing import factories

    delivery.enqueue_delivery = lambda order_id: None  # confirmation only: see the module docstring
    sku = factories.SkuFactory(price="50.00")
    factories.stock(sku, 2 * ROUNDS * PER_ROUND + 10)
    with_upline, alone = _buyers(factories)
    timings = {"upline": 0.0, "alone": 0.0}
    for round_number in range(ROUNDS):
        for kind, buyer in (("upline", with_upline), ("alone", alone))[:: 1 if round_number % 2 else -1]:
            timings[kind] += _confirm_many(factories, sku, buyer, PER_ROUND)
        log(f"round {round_number + 1}: upline {timings['upline']:.2f} s, alone {timings['alone']:.2f} s")
    count = ROUNDS * PER_ROUND
    from distribution.models import Commission

    assert Commission.objects.filter(buyer=with_upline, kind="sale").count() == 3 * count
    settle_seconds = _settlement(timezone, timedelta)
    emit(
        {
            "bench": "commissions",
            "confirmations_each": count,
            "with_upline_per_second": round(count / timings["upline"], 1),
            "without_upline_per_second": round(count / timings["alone"], 1),
            "upline_cost_ratio": round(timings["upline"] / timings["alone"], 3),
            "settled": SETTLE,
            "settle_seconds": round(settle_seconds, 2),
            "settled_per_second": round(SETTLE / settle_seconds),
        }
    )


def _buyers(factories):
    from distribution import services

    chain = [factories.UserFactory(email=f"upline{n}@example.com") for n in range(3)]
    buyer = factories.UserFactory(email="buyer@example.com")
    for inviter, member in zip(chain, [*chain[1:], buyer], strict=True):
        services.bind_inviter(member, services.referrer_for(inviter).code)
    alone = factories.UserFactory(email="alone@example.com")
    services.referrer_for(alone)
    return buyer, alone


def _confirm_many(factories, sku, buyer, count: int) -> float:
    from payments.services import confirm_payment

    placed = [factories.place_order(sku, "sandbox", quantity=1, user=buyer) for _ in range(count)]
    started = time.perf_counter()
    for order in placed:
        payment = order.payment
        confirm_payment(payment.pk, amount=payment.amount.amount, gateway_trade_no=f"G{payment.pk}", provider="sandbox")
    return time.perf_counter() - started


def _settlement(timezone, timedelta) -> float:
    """SETTLE pending commissions of delivered orders, past their hold, then the beat job's run."""
    from djmoney.money import Money

    from accounts.models import User
    from catalog.models import Sku
    from distribution.models import Commission, LedgerEntry, Referrer
    from distribution.services import settle_due_commissions
    from orders.models import Order

    log(f"seeding {SETTLE} pending commissions for {EARNERS} earners")
    now = timezone.now()
    sku = Sku.objects.first()
    buyer = User.objects.get(email="alone@example.com")
    earners = User.objects.bulk_create(User(email=f"earner{n}@example.com", password="!") for n in range(EARNERS))
    Referrer.objects.bulk_create(Referrer(user=user, code=f"B{n:07d}") for n, user in enumerate(earners))
    orders = Order.objects.bulk_create(
        Order(
            user=buyer,
            contact_email=buyer.email,
            sku=sku,
            product_title="bench",
            sku_name="bench",
            quantity=1,
            unit_price=Money(10, "CNY"),
            total=Money(10, "CNY"),
            payment_method="sandbox",
            expires_at=now,
            status=Order.Status.DELIVERED,
            paid_at=now,
            delivered_at=now,
        )  # fmt: skip
        for _ in range(SETTLE)
    )
    commissions = Commission.objects.bulk_create(
        Commission(
            earner=earners[n % EARNERS],
            buyer=buyer,
            order=order,
            kind="sale",
            tier=1,
            rate=10,
            base=Money(10, "CNY"),
            amount=Money(1, "CNY"),
            created_at=now - timedelta(days=8),
            settle_after=now - timedelta(days=1),
        )  # fmt: skip
        for n, order in enumerate(orders)
    )
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            member=earners[n % EARNERS], kind="earned", amount=Money(1, "CNY"), commission=c, reference=f"c{c.pk}"
        )
        for n, c in enumerate(commissions)
    )
    from common import analyze_database

    analyze_database()
    log("settling")
    started = time.perf_counter()
    settled = settle_due_commissions(now=now)
    seconds = time.perf_counter() - started
    assert settled == SETTLE, settled
    from distribution.selectors import balances_of

    assert balances_of(earners[0]).pending == 0 and balances_of(earners[0]).available == SETTLE // EARNERS
    return seconds


if __name__ == "__main__":
    main()
