"""The free sandbox serves only the machine it runs on, unless it is switched on for everyone on purpose.

On the embedded run (`make run` on 127.0.0.1) the sandbox is on because the shop is on loopback; its
cashier, its pay action and its notifications then answer only requests made on that machine,
straight to the server: another address, or any request through a proxy, gets a 404 and no codes.
"""

import pytest
from django.urls import reverse

from kamen.testing import factories
from kamen.testing.factories import order_of
from kamen.testing.notifications import assert_rejected_and_unchanged
from orders.models import Order
from payments.models import Payment
from payments.providers import sandbox

ELSEWHERE = {"REMOTE_ADDR": "203.0.113.7"}
THROUGH_A_PROXY = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}


@pytest.fixture
def loopback_sandbox(settings):
    """The default outside production: the sandbox is on because the shop is on loopback."""
    settings.SANDBOX_PAYMENTS_ENABLED = True
    settings.SANDBOX_PAYMENTS_LOOPBACK_ONLY = True


@pytest.fixture
def payment(client, sku, shopper):
    client.force_login(shopper)
    return factories.place_order(sku, user=shopper, quantity=1).payment


def cashier(client, payment, **extra):
    return client.get(reverse("payments:sandbox", args=[payment.trade_no]), **extra)


def pay_at_the_cashier(client, payment, django_capture_on_commit_callbacks, **extra):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("payments:sandbox_pay", args=[payment.trade_no]), **extra)


def test_the_cashier_serves_this_machine(loopback_sandbox, client, payment):
    assert cashier(client, payment).status_code == 200


@pytest.mark.parametrize("origin", [ELSEWHERE, THROUGH_A_PROXY], ids=["another address", "through a proxy"])
def test_the_cashier_refuses_a_request_from_elsewhere(loopback_sandbox, client, payment, origin):
    response = cashier(client, payment, **origin)

    assert response.status_code == 404
    assert "¥10.00" not in response.content.decode()


@pytest.mark.parametrize("origin", [ELSEWHERE, THROUGH_A_PROXY], ids=["another address", "through a proxy"])
def test_the_pay_action_refuses_a_request_from_elsewhere(
    loopback_sandbox, client, payment, origin, django_capture_on_commit_callbacks
):
    response = pay_at_the_cashier(client, payment, django_capture_on_commit_callbacks, **origin)

    assert response.status_code == 404
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert order_of(payment).status == Order.Status.PENDING_PAYMENT


def test_a_genuine_notification_from_elsewhere_changes_nothing(loopback_sandbox, client, payment):
    body = sandbox.build_notification(payment)

    response = client.post("/payments/sandbox/notify/", data=body, **ELSEWHERE)

    assert response.content != b"success"
    assert_rejected_and_unchanged(payment)


def test_switched_on_for_everyone_it_serves_every_address(settings, client, payment):
    settings.SANDBOX_PAYMENTS_ENABLED = True
    settings.SANDBOX_PAYMENTS_LOOPBACK_ONLY = False

    assert cashier(client, payment, **ELSEWHERE).status_code == 200


def test_switched_off_it_serves_nobody(settings, client, payment):
    settings.SANDBOX_PAYMENTS_ENABLED = False

    assert cashier(client, payment).status_code == 404
