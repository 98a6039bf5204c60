"""Races on PostgreSQL with real threads and real commits: a code is sold at most once, no order is lost."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.threads import run_together
from orders import services
from orders.models import Order, OrderEvent
from payments.models import Payment
from payments.services import confirm_payment

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("transactional_db", "fast_password_hashing")]


def checkout(sku, buyer: int, quantity: int = 1):
    return lambda: services.place_order(
        sku,
        quantity=quantity,
        user=None,
        contact_email=f"buyer{buyer}@example.com",
        lookup_password="abcd",
        payment_method="sandbox",
    )


def confirm(payment: Payment):
    return lambda: confirm_payment(
        payment.pk, amount=payment.amount.amount, gateway_trade_no=f"G{payment.pk}", provider=payment.provider
    )


def codes_by_status(sku) -> Counter:
    return Counter(CardCode.objects.filter(sku=sku).values_list("status", flat=True))


def test_fifty_buyers_race_for_twenty_codes_and_each_code_is_sold_once():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 20)

    # when
    outcomes = run_together([checkout(sku, buyer) for buyer in range(50)])

    # then
    payments = [outcome for outcome in outcomes if isinstance(outcome, Payment)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, Payment)]
    assert len(payments) == 20
    assert len(refused) == 30 and all(isinstance(error, services.OutOfStock) for error in refused)
    assert all(isinstance(error, services.CheckoutError) for error in refused)
    held = Counter(CardCode.objects.filter(sku=sku, status=CardCode.Status.RESERVED).values_list("order", flat=True))
    assert held == Counter({payment.order_id: 1 for payment in payments})
    assert codes_by_status(sku) == {CardCode.Status.RESERVED: 20}
    # Refused checkouts rolled back completely: no order row is left behind.
    assert Order.objects.count() == 20

    # when all twenty pay at once
    confirmations = run_together([confirm(payment) for payment in payments])

    # then
    assert all(confirmation.newly_confirmed for confirmation in confirmations)
    assert Order.objects.filter(status=Order.Status.DELIVERED).count() == 20
    assert codes_by_status(sku) == {CardCode.Status.SOLD: 20}
    sold = CardCode.objects.filter(status=CardCode.Status.SOLD)
    assert sorted(sold.values_list("order", flat=True)) == sorted(payment.order_id for payment in payments)


def test_buyers_of_three_never_hold_part_of_an_order():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 10)

    # when
    outcomes = run_together([checkout(sku, buyer, quantity=3) for buyer in range(12)])

    # then
    payments = [outcome for outcome in outcomes if isinstance(outcome, Payment)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, Payment)]
    assert all(isinstance(error, services.OutOfStock) for error in refused)
    # SKIP LOCKED may turn a buyer away while another checkout briefly holds rows it then gives
    # back, so fewer than three may win; never more, and never a partial hold.
    assert 1 <= len(payments) <= 3
    held = Counter(CardCode.objects.filter(sku=sku, status=CardCode.Status.RESERVED).values_list("order", flat=True))
    assert held == Counter({payment.order_id: 3 for payment in payments})
    assert codes_by_status(sku)[CardCode.Status.AVAILABLE] == 10 - 3 * len(payments)
    assert Order.objects.count() == len(payments)


def test_an_order_paid_while_it_expires_is_always_delivered():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 20)
    paths = Counter()

    for buyer in range(20):
        payment = checkout(sku, buyer)()
        Order.objects.filter(pk=payment.order_id).update(expires_at=timezone.now() - timedelta(seconds=1))

        # when the expiry sweeper and the payment run at the same moment
        expired, confirmation = run_together([services.expire_unpaid_orders, confirm(payment)])

        # then the payment wins either way: paid at once, or paid late onto the expired order
        assert not isinstance(expired, Exception), expired
        assert not isinstance(confirmation, Exception), confirmation
        assert confirmation.newly_confirmed
        order = Order.objects.get(pk=payment.order_id)
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
