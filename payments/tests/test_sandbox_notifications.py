"""The sandbox gateway's notifications are verified like a real gateway's: only a genuine one changes anything."""

import time
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import RequestFactory
from kombu.exceptions import OperationalError

from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.factories import order_of
from kamen.testing.notifications import assert_rejected_and_unchanged, post_form
from orders import services as order_services
from orders.models import Order
from orders.tasks import deliver_order_task
from payments.models import Payment, PaymentNotification
from payments.providers import sandbox

NOTIFY_URL = "/payments/sandbox/notify/"


@pytest.fixture
def payment(sku):
    return factories.place_order(sku, quantity=2, email="a@example.com").payment


@pytest.fixture
def post_notification(client, django_capture_on_commit_callbacks):
    def post(body: str | dict):
        with django_capture_on_commit_callbacks(execute=True):
            return post_form(client, NOTIFY_URL, body)

    return post


def resign(params, key=None):
    params = dict(params)
    params["sign"] = sandbox.sign(params, settings.SANDBOX_SIGNING_KEY if key is None else key)
    return params


def test_a_genuine_notification_confirms_and_delivers(payment, post_notification):
    response = post_notification(sandbox.build_notification(payment))

    assert response.status_code == 200 and response.content == b"success"
    assert order_of(payment).status == Order.Status.DELIVERED
    notification = PaymentNotification.objects.get()
    assert notification.verified and notification.result == PaymentNotification.Result.CONFIRMED
    assert notification.payment_id == payment.pk


def test_a_resent_notification_changes_nothing_twice(payment, post_notification):
    params = sandbox.build_notification(payment)
    post_notification(params)

    response = post_notification(params)

    assert response.content == b"success"
    assert list(PaymentNotification.objects.order_by("id").values_list("result", flat=True)) == [
        "confirmed",
        "duplicate",
    ]
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 2


def test_a_tampered_amount_is_rejected(payment, post_notification):
    params = sandbox.build_notification(payment)
    params["total_amount"] = "0.01"

    response = post_notification(params)

    assert response.status_code == 400
    assert_rejected_and_unchanged(payment)


def test_a_correctly_signed_wrong_amount_is_rejected(payment, post_notification):
    params = resign({**sandbox.build_notification(payment), "total_amount": "19.99"})

    post_notification(params)

    assert_rejected_and_unchanged(payment)


def test_a_signature_made_with_another_key_is_rejected(payment, post_notification):
    post_notification(resign(sandbox.build_notification(payment), key="not-the-gateway-key"))

    assert_rejected_and_unchanged(payment)


@pytest.mark.parametrize("sign", [None, ""])
def test_missing_or_empty_signature_is_rejected(payment, post_notification, sign):
    params = sandbox.build_notification(payment)
    del params["sign"]
    if sign is not None:
        params["sign"] = sign

    post_notification(params)

    assert_rejected_and_unchanged(payment)


def test_an_empty_merchant_key_never_verifies(payment, post_notification, settings):
    settings.SANDBOX_SIGNING_KEY = ""

    post_notification(resign(sandbox.build_notification(payment), key=""))

    assert_rejected_and_unchanged(payment)


def test_duplicate_parameters_are_rejected(payment, post_notification):
    params = sandbox.build_notification(payment)
    body = urlencode(params) + "&total_amount=0.01"

    post_notification(body)

    assert_rejected_and_unchanged(payment)


def test_an_array_amount_is_rejected(payment, post_notification):
    params = sandbox.build_notification(payment)
    body = urlencode({k: v for k, v in params.items() if k != "total_amount"}) + "&total_amount[]=20.00"

    post_notification(body)

    assert_rejected_and_unchanged(payment)


def test_a_stale_notification_is_rejected(payment, post_notification):
    params = resign({**sandbox.build_notification(payment), "timestamp": str(int(time.time()) - 600)})

    post_notification(params)

    assert_rejected_and_unchanged(payment)


def test_a_notification_replayed_onto_another_order_is_rejected(sku, payment, post_notification):
    other = factories.place_order(sku, quantity=2, email="b@example.com").payment
    params = sandbox.build_notification(payment)
    params["trade_no"] = other.trade_no  # same amount, other order

    post_notification(params)

    assert_rejected_and_unchanged(other)
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


def test_an_unknown_trade_number_is_rejected(payment, post_notification):
    post_notification(resign({**sandbox.build_notification(payment), "trade_no": "P2026000000000000000"}))

    assert_rejected_and_unchanged(payment)


def test_a_non_success_status_is_not_a_payment(payment, post_notification):
    post_notification(sandbox.build_notification(payment, status="CLOSED"))

    assert_rejected_and_unchanged(payment)


def test_the_notify_url_accepts_only_post(client, db):
    assert client.get(NOTIFY_URL).status_code == 405
    assert not PaymentNotification.objects.exists()


def test_a_broker_outage_does_not_turn_a_confirmed_payment_into_a_failure(payment, post_notification, monkeypatch):
    # given the broker cannot be reached when the delivery task is sent
    def unreachable(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(deliver_order_task, "delay", unreachable)

    # when a genuine notification arrives
    response = post_notification(sandbox.build_notification(payment))

    # then the gateway is told "success" (the payment is confirmed) and the order waits for the sweeper
    assert response.content == b"success"
    assert PaymentNotification.objects.get().result == PaymentNotification.Result.CONFIRMED
    order = order_of(payment)
    assert order.status == Order.Status.PAID

    # and once the broker is back, the sweeper delivers it
    monkeypatch.undo()
    order_services.sweep_undelivered_orders(now=order.paid_at + settings.DELIVERY_SWEEP_AFTER)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_a_verified_notification_names_no_payer(payment):
    # The sandbox cashier takes payment from whoever opens it; it has no payer account to name.
    request = RequestFactory().post(
        NOTIFY_URL,
        data=urlencode(sandbox.build_notification(payment)),
        content_type="application/x-www-form-urlencoded",
    )

    verified = sandbox.SandboxProvider().parse_notification(request)

    assert (verified.trade_no, verified.payer) == (payment.trade_no, "")
