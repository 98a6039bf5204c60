"""Every delivered order gets its e-mail exactly once: however many tasks run, and also when the task
was never sent or gave up during an outage (the sweeper finds it)."""

from datetime import timedelta

import pytest
from django.core import mail

from kamen.celery import app
from kamen.testing import factories
from kamen.testing.outage import celery_broker, free_port
from orders import services
from orders.models import Order, OrderEvent
from orders.tasks import send_delivery_email_task


@pytest.fixture
def deliver(sku, pay):
    """Pay and deliver a guest order through the services; returns the delivered order."""

    def deliver(email: str = "buyer@example.com") -> Order:
        placed = factories.place_order(sku, quantity=1, email=email)
        pay(placed.payment)
        order = Order.objects.get(pk=placed.order.pk)
        assert order.status == Order.Status.DELIVERED
        return order

    return deliver


def later(order: Order, settings) -> object:
    return order.delivered_at + settings.MAIL_SWEEP_AFTER + timedelta(seconds=1)


def test_running_the_email_task_again_sends_nothing_twice(deliver, mailoutbox):
    order = deliver()
    assert len(mailoutbox) == 1

    send_delivery_email_task(order.pk)
    send_delivery_email_task.delay(order.pk)

    assert len(mailoutbox) == 1


def test_the_sweeper_mails_an_order_whose_email_task_was_never_sent(
    sku, settings, mailoutbox, django_capture_on_commit_callbacks
):
    # given the broker is down when the order is delivered, so its e-mail task is never queued
    placed = factories.place_order(sku, quantity=1)
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"), django_capture_on_commit_callbacks(execute=True):
        factories.confirm(placed.payment)
    services.deliver_order(placed.order.pk)
    order = Order.objects.get(pk=placed.order.pk)
    assert order.status == Order.Status.DELIVERED and mailoutbox == []

    # when the sweeper runs, and runs again
    too_soon = services.sweep_unsent_delivery_emails(now=order.delivered_at)
    swept = services.sweep_unsent_delivery_emails(now=later(order, settings))
    again = services.sweep_unsent_delivery_emails(now=later(order, settings))

    # then the buyer gets exactly one e-mail
    assert too_soon == [] and swept == [order.pk] and again == []
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["g@example.com"]


def test_a_mail_server_outage_is_retried_and_then_swept_into_one_email(deliver, settings, mailoutbox, monkeypatch):
    # given the mail server refuses connections while an order is delivered (tasks inline, as in the
    # embedded run: the retries follow each other at once and the last one gives up)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    order = deliver()
    assert order.events.filter(type="email_failed").count() == 1 + settings.TASK_MAX_RETRIES

    # when the mail server is back and the sweeper runs (twice)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    services.sweep_unsent_delivery_emails(now=later(order, settings))
    services.sweep_unsent_delivery_emails(now=later(order, settings))

    # then exactly one e-mail went out
    assert len(mail.outbox) == 1


def test_a_send_claimed_by_a_worker_that_died_is_taken_over_once_stale(deliver, settings, mailoutbox):
    order = deliver()
    mailoutbox.clear()
    services.record_event(order, OrderEvent.Type.EMAIL_CLAIMED)  # a second claim, as if a send were under way
    services.record_event(order, "email_failed")
    assert services.claim_delivery_email(order.pk) is not None  # the failure released it
    fresh = services.claim_delivery_email(order.pk)
    stale = services.claim_delivery_email(order.pk, now=order.delivered_at + settings.MAIL_CLAIM_STALE_AFTER * 2)

    assert fresh is None  # someone is sending right now
    assert stale is not None  # that someone is long gone


def test_orders_delivered_before_emails_were_recorded_are_never_swept(deliver, settings, mailoutbox):
    order = deliver()
    order.events.filter(type__startswith="email_").delete()  # as delivered by an older version
    mailoutbox.clear()

    assert services.sweep_unsent_delivery_emails(now=later(order, settings)) == []
    assert mailoutbox == []
