"""Races on PostgreSQL with real threads and real commits: a code is sold at most once, no order is lost."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.threads import MANY_CONNECTIONS, run_together
from orders import services
from orders.models import Order, OrderEvent
from orders.selectors import SESSION_KEY
from payments.models import Payment

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("transactional_db")]


def checkout(sku, buyer: int, quantity: int = 1):
    return lambda: factories.place_order(sku, quantity=quantity, email=f"buyer{buyer}@example.com")


def paying(placed: services.PlacedOrder):
    return lambda: factories.confirm(placed.payment)


def codes_by_status(sku) -> Counter:
    return Counter(CardCode.objects.filter(sku=sku).values_list("status", flat=True))


@MANY_CONNECTIONS
def test_fifty_buyers_race_for_twenty_codes_and_each_code_is_sold_once():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 20)

    # when
    outcomes = run_together([checkout(sku, buyer) for buyer in range(50)])

    # then
    placed = [outcome for outcome in outcomes if isinstance(outcome, services.PlacedOrder)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, services.PlacedOrder)]
    assert len(placed) == 20
    assert len(refused) == 30 and all(isinstance(error, services.OutOfStock) for error in refused)
    assert all(isinstance(error, services.CheckoutError) for error in refused)
    held = Counter(CardCode.objects.filter(sku=sku, status=CardCode.Status.RESERVED).values_list("order", flat=True))
    assert held == Counter({each.order.pk: 1 for each in placed})
    assert codes_by_status(sku) == {CardCode.Status.RESERVED: 20}
    # Refused checkouts rolled back completely: no order row is left behind.
    assert Order.objects.count() == 20

    # when all twenty pay at once
    confirmations = run_together([paying(each) for each in placed])

    # then
    assert all(confirmation.newly_confirmed for confirmation in confirmations)
    assert Order.objects.filter(status=Order.Status.DELIVERED).count() == 20
    assert codes_by_status(sku) == {CardCode.Status.SOLD: 20}
    sold = CardCode.objects.filter(status=CardCode.Status.SOLD)
    assert sorted(sold.values_list("order", flat=True)) == sorted(each.order.pk for each in placed)


def test_buyers_of_three_never_hold_part_of_an_order():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 10)

    # when
    outcomes = run_together([checkout(sku, buyer, quantity=3) for buyer in range(12)])

    # then
    placed = [outcome for outcome in outcomes if isinstance(outcome, services.PlacedOrder)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, services.PlacedOrder)]
    assert all(isinstance(error, services.OutOfStock) for error in refused)
    # SKIP LOCKED may turn a buyer away while another checkout briefly holds rows it then gives
    # back, so fewer than three may win; never more, and never a partial hold.
    assert 1 <= len(placed) <= 3
    held = Counter(CardCode.objects.filter(sku=sku, status=CardCode.Status.RESERVED).values_list("order", flat=True))
    assert held == Counter({each.order.pk: 3 for each in placed})
    assert codes_by_status(sku)[CardCode.Status.AVAILABLE] == 10 - 3 * len(placed)
    assert Order.objects.count() == len(placed)


def test_an_order_paid_while_it_expires_is_always_delivered():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 20)
    paths = Counter()

    for buyer in range(20):
        placed = checkout(sku, buyer)()
        Order.objects.filter(pk=placed.order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

        # when the expiry sweeper and the payment run at the same moment
        expired, confirmation = run_together([services.expire_unpaid_orders, paying(placed)])

        # then the payment wins either way: paid at once, or paid late onto the expired order
        assert not isinstance(expired, Exception), expired
        assert not isinstance(confirmation, Exception), confirmation
        assert confirmation.newly_confirmed
        order = Order.objects.get(pk=placed.order.pk)
        assert order.status == Order.Status.DELIVERED
        events = list(OrderEvent.objects.filter(order=order).values_list("type", flat=True))
        mailed = ["email_due", "email_claimed", "email_sent"]
        assert events in (
            ["placed", "paid", "delivered", *mailed],
            ["placed", "expired", "paid_late", "delivered", *mailed],
        )
        paths[events[1]] += 1
        assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 1

    assert Payment.objects.filter(state=Payment.State.CONFIRMED).count() == 20
    assert not Order.objects.exclude(status=Order.Status.DELIVERED).exists()
    assert codes_by_status(sku) == {CardCode.Status.SOLD: 20}
    assert paths.total() == 20


def test_a_cancel_posted_while_the_payment_commits_never_closes_the_paid_order(client):
    # given an unpaid order whose payment is being confirmed: the order row is locked, not committed yet
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 2)
    placed = factories.place_order(sku, quantity=2)
    locked, release = threading.Event(), threading.Event()

    def confirm_slowly():
        with transaction.atomic():
            outcome = factories.confirm(placed.payment)
            locked.set()
            release.wait(timeout=10)
        return outcome

    def cancel():
        locked.wait(timeout=10)
        session = client.session
        session[SESSION_KEY] = [placed.order.number]
        session.save()
        # The view reads the order as unpaid (the payment has not committed) and posts the cancel.
        threading.Timer(0.5, release.set).start()
        return client.post(reverse("orders:cancel", args=[placed.order.number]))

    # when the buyer's cancel arrives at that moment
    confirmation, response = run_together([confirm_slowly, cancel])

    # then the payment wins: the order is paid and delivered, never cancelled with its money taken
    assert not isinstance(confirmation, Exception), confirmation
    assert response.status_code == 302
    order = Order.objects.get(pk=placed.order.pk)
    assert order.status in (Order.Status.PAID, Order.Status.DELIVERED)
    assert not OrderEvent.objects.filter(order=order, type=OrderEvent.Type.CANCELLED).exists()
    assert CardCode.objects.filter(order=order).count() == 2
    assert codes_by_status(sku).get(CardCode.Status.AVAILABLE, 0) == 0
