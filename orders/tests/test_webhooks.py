"""Callbacks to a reseller's program: signed, retried with back-off, visible and resendable."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from djmoney.money import Money

from accounts.services import credit_wallet
from kamen.client import verify_webhook
from kamen.testing import factories
from kamen.testing.receiver import serve_receiver
from orders.models import Order, WebhookDelivery
from orders.services import fail_delivery
from orders.services.webhooks import BACKOFF, resend_webhook, send_webhook, sweep_due_webhooks

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings):
    settings.API_CALLBACKS_TO_PRIVATE_ADDRESSES = True  # the receiver listens on loopback
    receiver, server = serve_receiver()
    yield receiver
    server.shutdown()


@pytest.fixture
def api(api_for):
    user = factories.UserFactory(email="hooked@example.com")
    credit_wallet(user, Money("100.00", "CNY"), actor=None, note="test")
    return api_for(user)


def order_with_callback(api, sku, receiver, capture, number="H-1"):
    body = {"sku": sku.pk, "quantity": 1, "client_order_no": number, "callback_url": receiver.url}
    with capture(execute=True):
        answer = api.post("/api/v1/orders/", body)
    assert answer.status_code == 201, answer.content
    return Order.objects.get(number=answer.json()["number"])


def test_a_delivered_order_is_told_by_a_signed_post(api, sku, receiver, django_capture_on_commit_callbacks):
    order = order_with_callback(api, sku, receiver, django_capture_on_commit_callbacks)
    [(headers, body)] = receiver.received
    event = verify_webhook(api.secret, headers=headers, body=body)
    assert event["event"] == "order.delivered"
    assert event["order"]["number"] == order.number and event["order"]["client_order_no"] == "H-1"
    with pytest.raises(ValueError):
        verify_webhook("another secret", headers=headers, body=body)
    delivery = WebhookDelivery.objects.get(order=order)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("sent", 1, 200)


def test_a_failing_endpoint_is_retried_with_back_off_then_given_up(
    api, sku, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [503]
    order = order_with_callback(api, sku, receiver, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(order=order)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 503)
    # Not due yet: nothing is sent again before the back-off has passed.
    assert send_webhook(delivery.pk) is None
    assert len(receiver.received) == 1
    now = timezone.now()
    for waited in BACKOFF:
        now += timedelta(seconds=waited + 1)
        with time_machine.travel(now, tick=False):
            send_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.attempts == len(BACKOFF) + 1
    assert len(receiver.received) == len(BACKOFF) + 1


def test_a_resend_after_the_endpoint_is_fixed_reaches_it(api, sku, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [500]
    order = order_with_callback(api, sku, receiver, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(order=order)
    receiver.statuses = [204]
    with django_capture_on_commit_callbacks(execute=True):
        resend_webhook(delivery)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.last_status, len(receiver.received)) == ("sent", 204, 2)


def test_a_failed_order_is_told_too(api, sku, receiver, django_capture_on_commit_callbacks):
    from django.db import transaction

    from orders.locks import lock_order

    order = order_with_callback(api, sku, receiver, django_capture_on_commit_callbacks)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        fail_delivery(lock_order(order.pk), "supplier refused")
    events = [verify_webhook(api.secret, headers=h, body=b)["event"] for h, b in receiver.received]
    assert events == ["order.delivered", "order.failed"]


def test_the_sweeper_sends_what_a_lost_task_left(api, sku, receiver, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr("orders.services.webhooks.enqueue_webhook", lambda *args, **kwargs: None)
    order = order_with_callback(api, sku, receiver, django_capture_on_commit_callbacks)
    assert receiver.received == []  # the broker lost the task
    monkeypatch.undo()
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        assert sweep_due_webhooks() == [WebhookDelivery.objects.get(order=order).pk]
    assert len(receiver.received) == 1


def test_a_callback_that_now_leads_into_the_network_is_not_sent(
    api, sku, receiver, settings, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    order = order_with_callback(api, sku, receiver, django_capture_on_commit_callbacks)
    settings.API_CALLBACKS_TO_PRIVATE_ADDRESSES = False
    delivery = WebhookDelivery.objects.get(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        resend_webhook(delivery)
    delivery.refresh_from_db()
    assert len(receiver.received) == 1 and delivery.last_status is None
    assert "127.0.0.1" in delivery.last_response  # the refusal names the private address
