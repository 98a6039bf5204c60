"""Lost notifications: the beat job queries pending gateway payments, confirms the paid, closes the expired."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.factories import order_of
from orders import services as order_services
from orders.models import Order
from payments import services
from payments.models import Payment
from payments.providers.base import GatewayError, TradeStatus
from payments.tasks import reconcile_payments_task


@pytest.fixture
def pending(sku, scripted_gateway):
    return factories.place_order(sku, "scripted").payment


def minutes(n: int):
    return timezone.now() + timedelta(minutes=n)


def test_a_payment_paid_without_a_notification_is_confirmed_and_delivered_by_the_query_job(
    pending, scripted_gateway, django_capture_on_commit_callbacks
):
    # given the shopper paid but the notification was lost
    scripted_gateway.trade_status = TradeStatus("paid", amount=Decimal("20.00"), gateway_trade_no="G-LOST")

    # when the beat job runs a few minutes later
    with django_capture_on_commit_callbacks(execute=True):
        report = services.reconcile_pending_payments(now=minutes(3))

    # then
    assert report.outcomes == {"confirmed": 1}
    pending.refresh_from_db()
    assert pending.state == Payment.State.CONFIRMED
    assert pending.gateway_trade_no == "G-LOST"
    order = order_of(pending)
    assert order.status == Order.Status.DELIVERED
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2


def test_the_job_leaves_young_payments_alone(pending, scripted_gateway):
    report = services.reconcile_pending_payments(now=timezone.now() + timedelta(seconds=30))

    assert report.outcomes == {}
    assert scripted_gateway.calls == []


def test_an_unpaid_payment_keeps_waiting_until_it_expires(pending, scripted_gateway):
    report = services.reconcile_pending_payments(now=minutes(3))

    assert report.outcomes == {"waiting": 1}
    assert scripted_gateway.calls == [("query", pending.trade_no)]
    pending.refresh_from_db()
    assert pending.state == Payment.State.PENDING


def test_an_expired_trade_is_closed_at_the_gateway(pending, scripted_gateway):
    # given the order expired unpaid
    later = minutes(16)
    order_services.expire_unpaid_orders(now=later)

    # when
    report = services.reconcile_pending_payments(now=later)

    # then the gateway trade is closed and no longer asked about
    assert report.outcomes == {"closed": 1}
    assert scripted_gateway.calls == [("query", pending.trade_no), ("close", pending.trade_no)]
    pending.refresh_from_db()
    assert pending.state == Payment.State.CANCELLED
    assert pending.closed_at is not None
    assert services.reconcile_pending_payments(now=later).outcomes == {}


def test_a_cancelled_order_is_closed_only_once_the_gateway_allows_it(pending, scripted_gateway):
    # given a gateway that refuses to close trades younger than five minutes, and a cancelled order
    scripted_gateway.close_not_before = timedelta(minutes=5)
    order_services.cancel_order(order_of(pending), actor=None)

    # then it is queried but not closed at three minutes, and closed at six
    assert services.reconcile_pending_payments(now=minutes(3)).outcomes == {"waiting": 1}
    assert services.reconcile_pending_payments(now=minutes(6)).outcomes == {"closed": 1}
    assert [call for call, _ in scripted_gateway.calls] == ["query", "query", "close"]


def test_a_close_that_loses_the_race_with_a_payment_ends_in_a_late_payment_delivered(
    pending, scripted_gateway, django_capture_on_commit_callbacks
):
    # given the order expired, and the shopper paid just before the trade could be closed
    later = minutes(16)
    order_services.expire_unpaid_orders(now=later)
    scripted_gateway.close_error = GatewayError("ACQ.TRADE_STATUS_ERROR: trade already paid")
    assert services.reconcile_pending_payments(now=later).outcomes == {"error": 1}
    pending.refresh_from_db()
    assert pending.state == Payment.State.PENDING

    # when the next run finds it paid
    scripted_gateway.trade_status = TradeStatus("paid", amount=Decimal("20.00"), gateway_trade_no="G-RACE")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reconcile_pending_payments(now=later + timedelta(minutes=1)).outcomes == {"confirmed": 1}

    # then the late payment is honoured: codes reserved again and delivered
    order = order_of(pending)
    assert order.status == Order.Status.DELIVERED
    assert order.events.filter(type="paid_late").exists()


def test_a_gateway_that_closed_the_trade_itself_settles_it(pending, scripted_gateway):
    scripted_gateway.trade_status = TradeStatus("closed")

    assert services.reconcile_pending_payments(now=minutes(3)).outcomes == {"closed": 1}
    assert ("close", pending.trade_no) not in scripted_gateway.calls


def test_a_paid_amount_that_is_not_ours_is_never_confirmed(pending, scripted_gateway):
    scripted_gateway.trade_status = TradeStatus("paid", amount=Decimal("0.01"), gateway_trade_no="G-CHEAP")

    assert services.reconcile_pending_payments(now=minutes(3)).outcomes == {"error": 1}
    pending.refresh_from_db()
    assert pending.state == Payment.State.PENDING


def test_an_unreachable_gateway_is_asked_again_next_time(pending, scripted_gateway):
    scripted_gateway.trade_status = GatewayError("timed out")

    assert services.reconcile_pending_payments(now=minutes(3)).outcomes == {"error": 1}
    scripted_gateway.trade_status = TradeStatus("waiting")
    assert services.reconcile_pending_payments(now=minutes(4)).outcomes == {"waiting": 1}


def test_the_job_stops_asking_a_while_after_the_payment_expired(pending, scripted_gateway, settings):
    too_late = pending.expires_at + settings.PAYMENT_QUERY_UNTIL_AFTER_EXPIRY + timedelta(minutes=1)

    assert services.reconcile_pending_payments(now=too_late).outcomes == {}


def test_providers_without_a_gateway_to_ask_are_never_queried(sku, scripted_gateway, shopper):
    payment = factories.place_order(sku, "balance", quantity=1, user=shopper).payment  # the wallet has no gateway

    assert services.reconcile_pending_payments(now=minutes(3)).outcomes == {}
    assert scripted_gateway.calls == []
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING


def test_the_beat_task_runs_the_job(pending, scripted_gateway, settings):
    settings.PAYMENT_QUERY_AFTER = timedelta(0)

    assert reconcile_payments_task.delay().get() == {"waiting": 1}


def test_the_beat_schedule_includes_reconciliation(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"payments.tasks.reconcile_payments_task", "payments.tasks.sync_processing_refunds_task"} <= tasks
