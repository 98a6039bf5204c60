"""The sandbox behaves like a real gateway: it keeps its own books, refuses payment after the deadline
it was given, and a payment whose notification never arrived is found by querying it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kamen.testing import factories
from kamen.testing.outage import celery_broker, free_port
from kamen.testing.pages import guest_checkout
from orders.models import Order
from payments import services
from payments.models import Payment, PaymentNotification, SandboxTrade
from payments.providers import sandbox


@pytest.fixture
def guest_payment(client, sku):
    """A guest's pending sandbox payment, opened in `client`'s session through the real checkout."""
    assert guest_checkout(client, sku).status_code == 302
    return Payment.objects.get()


def pay_at_cashier(client, payment):
    return client.post(reverse("payments:sandbox_pay", args=[payment.trade_no]))


def test_the_cashier_refuses_payment_after_the_deadline(client, guest_payment):
    # given the order's time to pay is over (the shop has not expired it yet)
    Payment.objects.filter(pk=guest_payment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    cashier = reverse("payments:sandbox", args=[guest_payment.trade_no])
    assert "支付时间已过" in client.get(cashier).content.decode()

    # when the shopper still tries to pay
    response = pay_at_cashier(client, guest_payment)

    # then nothing is charged, nothing is notified, and the shopper is told why
    assert response["Location"] == cashier
    assert "支付时间已过" in client.get(cashier).content.decode()
    assert not SandboxTrade.objects.exists()
    assert not PaymentNotification.objects.exists()
    guest_payment.refresh_from_db()
    assert guest_payment.state == Payment.State.PENDING


def test_paying_twice_at_the_cashier_charges_once(guest_payment):
    first = sandbox.take_payment(guest_payment)
    second = sandbox.take_payment(guest_payment)

    assert first.pk == second.pk and SandboxTrade.objects.count() == 1
    assert first.amount == guest_payment.amount and first.state == SandboxTrade.State.PAID


def test_a_payment_whose_notification_was_lost_is_confirmed_by_querying_the_sandbox(
    client, guest_payment, mailoutbox, django_capture_on_commit_callbacks
):
    # given the broker is down when the shopper pays, so the gateway's notification is never sent
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):
        response = pay_at_cashier(client, guest_payment)
    assert response.status_code == 302  # the money is taken: never an error page
    assert SandboxTrade.objects.get().state == SandboxTrade.State.PAID
    assert not PaymentNotification.objects.exists()

    # when the reconciliation job asks the gateway a few minutes later
    with django_capture_on_commit_callbacks(execute=True):
        report = services.reconcile_pending_payments(now=guest_payment.created_at + timedelta(minutes=3))

    # then the payment is confirmed with the gateway's own trade number, and the order delivered and mailed
    assert report.outcomes == {"confirmed": 1}
    guest_payment.refresh_from_db()
    assert guest_payment.state == Payment.State.CONFIRMED
    assert guest_payment.gateway_trade_no == SandboxTrade.objects.get().gateway_trade_no
    assert Order.objects.get().status == Order.Status.DELIVERED
    assert len(mailoutbox) == 1


def test_an_expired_trade_is_closed_at_the_sandbox_and_cannot_be_paid_afterwards(client, guest_payment):
    # when the reconciliation job finds the payment expired
    late = guest_payment.expires_at + timedelta(minutes=1)
    report = services.reconcile_pending_payments(now=late)

    # then it is closed on both sides, and the cashier refuses it
    assert report.outcomes == {"closed": 1}
    assert SandboxTrade.objects.get().state == SandboxTrade.State.CLOSED
    guest_payment.refresh_from_db()
    assert guest_payment.state == Payment.State.CANCELLED
    with pytest.raises(sandbox.CashierRefused):
        sandbox.take_payment(guest_payment, now=guest_payment.created_at)


def test_a_paid_trade_cannot_be_closed(guest_payment):
    sandbox.take_payment(guest_payment)

    status = sandbox.SandboxProvider().query(guest_payment)
    with pytest.raises(sandbox.GatewayError):
        sandbox.close_trade(guest_payment)

    assert status.state == "paid" and status.amount == guest_payment.amount.amount
    assert SandboxTrade.objects.get().state == SandboxTrade.State.PAID


def test_a_notification_built_from_the_sandbox_books_confirms_once(client, sku, django_capture_on_commit_callbacks):
    payment = factories.place_order(sku, quantity=1).payment
    trade = sandbox.take_payment(payment)

    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post("/payments/sandbox/notify/", sandbox.build_notification(trade)) for _ in range(2)]

    assert [answer.content for answer in answers] == [b"success", b"success"]
    payment.refresh_from_db()
    assert payment.state == Payment.State.CONFIRMED and payment.gateway_trade_no == trade.gateway_trade_no
