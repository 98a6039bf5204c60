"""Our payment page (收银台): the gateway's QR code drawn by us, polling, and who may see it."""

import base64
import re

import pytest
from django.test import Client
from django.urls import reverse
from djmoney.money import Money

from accounts.services import credit_wallet
from kamen.testing import factories
from kamen.testing.factories import order_of
from orders import services as order_services
from payments.models import Payment
from payments.providers.base import GatewayError, PaymentAction


@pytest.fixture
def order_payment(client, sku, scripted_gateway):
    response = client.post(
        reverse("orders:place"),
        {
            "sku": sku.pk,
            "quantity": 2,
            "contact_email": "g@example.com",
            "lookup_password": "pw-1234",
            "payment_method": "scripted",
        },
    )
    payment = Payment.objects.get()
    assert response["Location"] == reverse("payments:checkout", args=[payment.trade_no])
    return payment


def test_checkout_shows_the_gateway_qr_code_as_an_image_with_amount_and_deadline(client, order_payment):
    response = client.get(reverse("payments:checkout", args=[order_payment.trade_no]))

    html = response.content.decode()
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store, private"
    image = re.search(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert image and base64.b64decode(image.group(1)).startswith(b"\x89PNG")
    assert "¥20.00" in html
    assert "data-countdown" in html
    assert reverse("payments:status", args=[order_payment.trade_no]) in html
    order_payment.refresh_from_db()
    assert order_payment.qr_content == "scripted://pay"


def test_reopening_the_page_shows_the_same_trade(client, order_payment, scripted_gateway):
    url = reverse("payments:checkout", args=[order_payment.trade_no])
    client.get(url)
    client.get(url)

    assert [call for call, _ in scripted_gateway.calls] == ["start", "start"]
    assert Payment.objects.count() == 1


def test_the_order_page_offers_to_pay_on_the_payment_page(client, order_payment):
    html = client.get(order_of(order_payment).get_absolute_url()).content.decode()

    assert reverse("payments:checkout", args=[order_payment.trade_no]) in html


def test_a_redirecting_gateway_sends_the_browser_on(client, order_payment, scripted_gateway):
    scripted_gateway.action = PaymentAction(kind="redirect", url="https://gateway.example/pay?x=1")

    response = client.get(reverse("payments:checkout", args=[order_payment.trade_no]))

    assert response.status_code == 302
    assert response["Location"] == "https://gateway.example/pay?x=1"


def test_an_unreachable_gateway_shows_a_clear_message(client, order_payment, scripted_gateway):
    scripted_gateway.action = GatewayError("connection refused")

    response = client.get(reverse("payments:checkout", args=[order_payment.trade_no]))

    assert response.status_code == 503
    assert "支付服务暂时无法响应" in response.content.decode()


def test_status_polling_reports_the_payment_and_where_to_go_next(client, order_payment):
    url = reverse("payments:status", args=[order_payment.trade_no])
    assert client.get(url).json() == {
        "state": "pending",
        "waiting": True,
        "next": order_of(order_payment).get_absolute_url(),
    }


def test_a_paid_or_expired_payment_page_goes_back_to_the_order(client, order_payment):
    order_services.cancel_order(order_of(order_payment), actor=None)

    response = client.get(reverse("payments:checkout", args=[order_payment.trade_no]))

    assert response.status_code == 302
    assert response["Location"] == order_of(order_payment).get_absolute_url()


def test_nobody_else_sees_the_payment_page(order_payment):
    stranger = Client()
    assert stranger.get(reverse("payments:checkout", args=[order_payment.trade_no])).status_code == 404
    assert stranger.get(reverse("payments:status", args=[order_payment.trade_no])).status_code == 404


def test_wallet_payments_have_no_payment_page(client, sku, shopper):
    # A GET must never debit a wallet: the balance provider is paid only by the checkout POST.
    credit_wallet(shopper, Money("100.00", "CNY"), actor=None)
    client.force_login(shopper)
    payment = factories.place_order(sku, "balance", quantity=1, user=shopper).payment

    assert client.get(reverse("payments:checkout", args=[payment.trade_no])).status_code == 404
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
