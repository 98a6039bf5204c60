from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from catalog.models import CardCode, Sku
from kamen.testing import factories
from orders import services
from orders.models import TRANSITIONS, IllegalTransition, Order, OrderEvent
from payments.services import confirm_payment


def place(sku, quantity=1, **kwargs):
    kwargs.setdefault("user", None)
    kwargs.setdefault("contact_email", "buyer@example.com")
    kwargs.setdefault("lookup_password", "abcd1234")
    kwargs.setdefault("payment_method", "sandbox")
    return services.place_order(sku, quantity=quantity, **kwargs)


@pytest.fixture
def pay(django_capture_on_commit_callbacks):
    """Confirm a payment as a verified notification would, running what it enqueues on commit."""

    def confirm(payment):
        with django_capture_on_commit_callbacks(execute=True):
            return confirm_payment(
                payment.pk, amount=payment.amount.amount, gateway_trade_no=f"G{payment.pk}", provider=payment.provider
            )

    return confirm


def test_placing_an_order_reserves_its_codes_and_prices_it_on_the_server(sku):
    payment = place(sku, quantity=3)

    order = payment.order
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.total.amount == Decimal("30.00")
    assert payment.amount == order.total
    assert CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).count() == 3
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 2
    assert order.expires_at - order.created_at == timedelta(minutes=15)
    assert order.lookup_password != "abcd1234" and order.check_lookup_password("abcd1234")


def test_short_stock_is_refused_and_reserves_nothing(sku):
    with pytest.raises(services.OutOfStock):
        place(sku, quantity=6)

    assert not Order.objects.exists()
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 5


@pytest.mark.parametrize("quantity", [0, 11])
def test_quantity_outside_the_products_limits_is_refused(sku, quantity):
    with pytest.raises(services.CheckoutError):
        place(sku, quantity=quantity)
    assert not Order.objects.exists()


def test_wallet_payment_needs_a_signed_in_buyer(sku):
    with pytest.raises(services.CheckoutError):
        place(sku, payment_method="balance")


def test_order_numbers_carry_64_random_bits():
    numbers = {factories_number() for _ in range(200)}
    assert len(numbers) == 200
    assert all(len(n) == 28 and n.isdigit() for n in numbers)


def factories_number():
    from orders.models import new_order_number

    return new_order_number()


def test_paying_delivers_the_reserved_codes_once(sku, mailoutbox, pay):
    payment = place(sku, quantity=2)

    pay(payment)
    again = pay(payment)

    order = Order.objects.get(pk=payment.order_id)
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
    payment = place(sku, quantity=1)
    pay(payment)

    services.deliver_order(payment.order_id)

    assert OrderEvent.objects.filter(order_id=payment.order_id, type="delivered").count() == 1
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 1


def test_a_wrong_amount_confirms_nothing(sku):
    from payments.services import PaymentMismatch

    payment = place(sku, quantity=1)

    with pytest.raises(PaymentMismatch):
        confirm_payment(payment.pk, amount=Decimal("9.99"), gateway_trade_no="G", provider="sandbox")

    assert Order.objects.get(pk=payment.order_id).status == Order.Status.PENDING_PAYMENT


def test_every_move_outside_the_table_is_refused(sku):
    order = place(sku).order
    for to_status in Order.Status.values:
        if to_status in TRANSITIONS[order.status]:
            continue
        with pytest.raises(IllegalTransition):
            services.transition(order, to_status)
    assert TRANSITIONS[Order.Status.DELIVERED] == set()


def test_expiry_releases_codes_of_unpaid_orders_only(sku):
    due = place(sku, quantity=2).order
    fresh = place(sku, quantity=1).order
    Order.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert services.expire_unpaid_orders() == 1

    assert Order.objects.get(pk=due.pk).status == Order.Status.EXPIRED
    assert Order.objects.get(pk=fresh.pk).status == Order.Status.PENDING_PAYMENT
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 4


def test_cancelling_frees_the_codes_at_once(sku, shopper):
    order = place(sku, quantity=2).order

    services.cancel_order(order, actor=None)

    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == 5


def test_a_late_payment_is_delivered_when_stock_allows(sku, pay):
    payment = place(sku, quantity=2)
    Order.objects.filter(pk=payment.order_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.expire_unpaid_orders()

    pay(payment)

    order = Order.objects.get(pk=payment.order_id)
    assert order.status == Order.Status.DELIVERED
    assert "paid_late" in order.events.values_list("type", flat=True)
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2


def test_a_late_payment_without_stock_goes_to_the_staff_queue(sku, pay):
    payment = place(sku, quantity=2)
    Order.objects.filter(pk=payment.order_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.expire_unpaid_orders()
    place(sku, quantity=5)  # someone else takes the whole stock

    pay(payment)

    order = Order.objects.get(pk=payment.order_id)
    assert order.status == Order.Status.DELIVERY_FAILED
    assert order.abnormal_reason
    assert order.payments.get().state == "confirmed"
    assert not CardCode.objects.filter(order=order).exists()


def test_manual_delivery_skus_wait_for_staff(db, pay):
    sku = factories.SkuFactory(delivery_kind=Sku.DeliveryKind.MANUAL)
    payment = place(sku, quantity=1)

    pay(payment)

    assert Order.objects.get(pk=payment.order_id).status == Order.Status.AWAITING_MANUAL


def test_the_sweeper_re_enqueues_paid_orders_left_undelivered(sku, pay):
    payment = place(sku, quantity=1)
    with mock.patch("orders.services._enqueue_delivery"):
        pay(payment)  # the delivery message is lost
    Order.objects.filter(pk=payment.order_id).update(paid_at=timezone.now() - timedelta(minutes=2))

    swept = services.sweep_undelivered_orders()

    assert swept == [payment.order_id]
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.DELIVERED


def test_a_sold_code_must_name_its_order(sku):
    from django.db import IntegrityError, transaction

    code = CardCode.objects.filter(sku=sku).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        CardCode.objects.filter(pk=code.pk).update(status=CardCode.Status.SOLD)


def test_a_price_change_after_checkout_does_not_change_the_order(sku, pay):
    payment = place(sku, quantity=1)
    sku.price = factories.Money("99.00", "CNY")
    sku.save()

    pay(payment)

    assert Order.objects.get(pk=payment.order_id).total.amount == Decimal("10.00")
