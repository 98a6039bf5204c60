from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import CardCode, Sku
from kamen.locking import LockOutsideTransaction
from kamen.testing import factories
from orders import services
from orders.models import MOVES, IllegalTransition, Order, OrderEvent, new_order_number
from orders.selectors import confirmed_payment, payments_of
from payments.services import PaymentMismatch, confirm_payment


def test_placing_an_order_reserves_its_codes_and_prices_it_on_the_server(sku):
    placed = factories.place_order(sku, quantity=3)

    order = placed.order
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.total.amount == Decimal("30.00")
    assert placed.payment.amount == order.total
    assert list(payments_of(order)) == [placed.payment]
    assert placed.payment.reference == order.number
    assert CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).count() == 3
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 2
    assert order.expires_at - order.created_at == timedelta(minutes=15)
    assert order.lookup_password != "pw-1234" and order.check_lookup_password("pw-1234")


def test_short_stock_is_refused_and_reserves_nothing(sku):
    with pytest.raises(services.OutOfStock):
        factories.place_order(sku, quantity=6)

    assert not Order.objects.exists()
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 5


@pytest.mark.parametrize("quantity", [0, 11])
def test_quantity_outside_the_products_limits_is_refused(sku, quantity):
    with pytest.raises(services.CheckoutError):
        factories.place_order(sku, quantity=quantity)
    assert not Order.objects.exists()


def test_wallet_payment_needs_a_signed_in_buyer(sku):
    with pytest.raises(services.CheckoutError):
        factories.place_order(sku, "balance")


def test_order_numbers_carry_64_random_bits():
    numbers = {new_order_number() for _ in range(200)}
    assert len(numbers) == 200
    assert all(len(n) == 28 and n.isdigit() for n in numbers)


def test_paying_delivers_the_reserved_codes_once(sku, mailoutbox, pay):
    placed = factories.place_order(sku, quantity=2)

    pay(placed.payment)
    again = pay(placed.payment)

    order = Order.objects.get(pk=placed.order.pk)
    assert order.status == Order.Status.DELIVERED
    assert not again.newly_confirmed
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2
    assert list(order.events.values_list("type", flat=True)) == [
        "placed",
        "paid",
        "delivered",
        "email_due",
        "email_claimed",
        "email_sent",
    ]
    assert len(mailoutbox) == 1 and order.number in mailoutbox[0].body
    assert "CODE-" not in mailoutbox[0].body


def test_delivery_is_safe_to_run_twice(sku, pay):
    placed = factories.place_order(sku, quantity=1)
    pay(placed.payment)

    services.deliver_order(placed.order.pk)

    assert OrderEvent.objects.filter(order=placed.order, type=OrderEvent.Type.DELIVERED).count() == 1
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 1


def test_a_wrong_amount_confirms_nothing(sku):
    placed = factories.place_order(sku, quantity=1)

    with pytest.raises(PaymentMismatch):
        confirm_payment(placed.payment.pk, amount=Decimal("9.99"), gateway_trade_no="G", provider="sandbox")

    assert Order.objects.get(pk=placed.order.pk).status == Order.Status.PENDING_PAYMENT


@pytest.mark.parametrize("from_status", Order.Status.values)
def test_every_move_outside_the_table_is_refused(sku, from_status):
    order = factories.place_order(sku).order
    Order.objects.filter(pk=order.pk).update(status=from_status)
    order.refresh_from_db()
    for to_status in Order.Status.values:
        for event in OrderEvent.Type.values:
            if event in MOVES.get((from_status, to_status), set()):
                continue
            with pytest.raises(IllegalTransition), transaction.atomic():
                services.transition(order, to_status, event=event)
    assert Order.objects.get(pk=order.pk).status == from_status


def test_only_a_full_refund_closes_a_paid_order():
    closing = {from_status: events for (from_status, to_status), events in MOVES.items() if to_status == "cancelled"}

    assert closing.pop(Order.Status.PENDING_PAYMENT) == {OrderEvent.Type.CANCELLED}
    assert set(closing) == {Order.Status.PAID, Order.Status.AWAITING_MANUAL, Order.Status.DELIVERY_FAILED}
    assert all(events == {OrderEvent.Type.CANCELLED_REFUNDED} for events in closing.values())
    assert not any(from_status == Order.Status.DELIVERED for from_status, _ in MOVES)


@pytest.mark.django_db(transaction=True)
def test_a_move_outside_a_transaction_raises(sku):
    # (outside the test's own wrapping transaction: transaction=True)
    order = factories.place_order(sku).order

    with pytest.raises(LockOutsideTransaction):
        services.transition(order, Order.Status.CANCELLED, event=OrderEvent.Type.CANCELLED)

    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


def test_expiry_releases_codes_of_unpaid_orders_only(sku):
    due = factories.place_order(sku, quantity=2).order
    fresh = factories.place_order(sku, quantity=1).order
    Order.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert services.expire_unpaid_orders() == 1

    assert Order.objects.get(pk=due.pk).status == Order.Status.EXPIRED
    assert Order.objects.get(pk=fresh.pk).status == Order.Status.PENDING_PAYMENT
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 4


def test_cancelling_frees_the_codes_at_once(sku):
    order = factories.place_order(sku, quantity=2).order

    cancelled = services.cancel_order(order, actor=None)

    assert cancelled.status == Order.Status.CANCELLED
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 5


def test_cancelling_an_order_read_before_it_was_paid_changes_nothing(sku, pay):
    # given a buyer's page read the order while it was unpaid
    placed = factories.place_order(sku, quantity=2)
    stale = Order.objects.get(pk=placed.order.pk)
    pay(placed.payment)

    # when the cancel arrives
    result = services.cancel_order(stale, actor=None)

    # then the order stays delivered, its codes sold
    assert result.status == Order.Status.DELIVERED
    assert Order.objects.get(pk=placed.order.pk).status == Order.Status.DELIVERED
    assert CardCode.objects.filter(order=placed.order, status=CardCode.Status.SOLD).count() == 2
    assert not OrderEvent.objects.filter(order=placed.order, type=OrderEvent.Type.CANCELLED).exists()


def test_a_late_payment_is_delivered_when_stock_allows(sku, pay):
    placed = factories.place_order(sku, quantity=2)
    Order.objects.filter(pk=placed.order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.expire_unpaid_orders()

    pay(placed.payment)

    order = Order.objects.get(pk=placed.order.pk)
    assert order.status == Order.Status.DELIVERED
    assert OrderEvent.Type.PAID_LATE in order.events.values_list("type", flat=True)
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2


def test_a_late_payment_without_stock_goes_to_the_staff_queue(sku, pay):
    placed = factories.place_order(sku, quantity=2)
    Order.objects.filter(pk=placed.order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.expire_unpaid_orders()
    factories.place_order(sku, quantity=5)  # someone else takes the whole stock

    pay(placed.payment)

    order = Order.objects.get(pk=placed.order.pk)
    assert order.status == Order.Status.DELIVERY_FAILED
    assert order.abnormal_reason
    assert confirmed_payment(order) == placed.payment
    assert not CardCode.objects.filter(order=order).exists()


def test_manual_delivery_skus_wait_for_staff(db, pay):
    sku = factories.SkuFactory(delivery_kind=Sku.DeliveryKind.MANUAL)
    placed = factories.place_order(sku, quantity=1)

    pay(placed.payment)

    assert Order.objects.get(pk=placed.order.pk).status == Order.Status.AWAITING_MANUAL


def test_the_sweeper_re_enqueues_paid_orders_left_undelivered(sku, pay):
    placed = factories.place_order(sku, quantity=1)
    with mock.patch("orders.services.delivery.enqueue_delivery"):
        pay(placed.payment)  # the delivery message is lost
    Order.objects.filter(pk=placed.order.pk).update(paid_at=timezone.now() - timedelta(minutes=2))

    swept = services.sweep_undelivered_orders()

    assert swept == [placed.order.pk]
    assert Order.objects.get(pk=placed.order.pk).status == Order.Status.DELIVERED


def test_a_sold_code_must_name_its_order(sku):
    code = CardCode.objects.filter(sku=sku).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        CardCode.objects.filter(pk=code.pk).update(status=CardCode.Status.SOLD)


def test_a_price_change_after_checkout_does_not_change_the_order(sku, pay):
    placed = factories.place_order(sku, quantity=1)
    sku.price = factories.Money("99.00", "CNY")
    sku.save()

    pay(placed.payment)

    assert Order.objects.get(pk=placed.order.pk).total.amount == Decimal("10.00")


@pytest.mark.usefixtures("shipped_password_hashing")
def test_guest_lookup_passwords_are_stored_as_salted_keyed_hashes(sku, settings):
    first = factories.place_order(sku, quantity=1).order
    second = factories.place_order(sku, quantity=1).order

    assert first.lookup_password.startswith("lookup_hmac_sha256$") and "pw-1234" not in first.lookup_password
    assert first.lookup_password != second.lookup_password  # same password, own salt
    assert first.check_lookup_password("pw-1234") and not first.check_lookup_password("pw-1235")

    # A retired key still opens the orders hashed under it; a hash under a key the shop never had does not.
    settings.SECRET_KEY_FALLBACKS, settings.SECRET_KEY = [settings.SECRET_KEY], "a-new-secret-key-" + "x" * 40
    assert first.check_lookup_password("pw-1234")
    settings.SECRET_KEY_FALLBACKS = []
    assert not first.check_lookup_password("pw-1234")


@pytest.mark.usefixtures("shipped_password_hashing")
def test_an_order_placed_when_lookup_passwords_were_argon2_still_opens_with_its_password(sku):
    order = factories.place_order(sku, quantity=1).order
    order.lookup_password = make_password("pw-1234", hasher="argon2")
    order.save(update_fields=["lookup_password"])

    assert order.check_lookup_password("pw-1234") and not order.check_lookup_password("pw-1235")
