"""Helpers for tests that post gateway notifications and check that a rejection changed nothing."""

from urllib.parse import urlencode

from catalog.models import CardCode
from kamen.testing.factories import order_of
from orders.models import Order
from payments.models import Payment, PaymentNotification


def post_form(client, url: str, body: str | dict):
    """POST a gateway's form-encoded notification exactly as given (a str keeps duplicates and arrays)."""
    if isinstance(body, dict):
        body = urlencode(body)
    return client.post(url, data=body, content_type="application/x-www-form-urlencoded")


def assert_rejected_and_unchanged(payment: Payment) -> None:
    """The last notification was stored as rejected, with a reason, and nothing else moved."""
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert order_of(payment).status == Order.Status.PENDING_PAYMENT
    assert not CardCode.objects.filter(status=CardCode.Status.SOLD).exists()
    notification = PaymentNotification.objects.latest("id")
    assert notification.result == PaymentNotification.Result.REJECTED
    assert notification.message
