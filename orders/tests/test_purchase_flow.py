"""The whole loop through the test client, with the sandbox gateway calling back over real HTTP."""

import re

import pytest
from django.urls import reverse

from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.pages import guest_checkout
from orders.models import Order
from orders.selectors import payments_of
from payments.models import PaymentNotification

checkout = guest_checkout


@pytest.mark.django_db(transaction=True)
def test_a_guest_buys_pays_in_the_sandbox_and_sees_the_codes(client, live_server, settings, mailoutbox):
    # given a product in stock, and the sandbox gateway calling back to a real server
    sku = factories.SkuFactory(price="12.50", product__title="网易一卡通 100点")
    secrets = factories.stock(sku, 3)
    settings.SANDBOX_NOTIFY_URL = live_server.url + reverse("payments:notify", args=["sandbox"])

    # when the guest browses and checks out
    assert "网易一卡通 100点" in client.get("/").content.decode()
    product_page = client.get(sku.product.get_absolute_url()).content.decode()
    assert "¥12.50" in product_page
    response = checkout(client, sku, unit_price="0.01", total="0.01")  # price fields are ignored
    assert response.status_code == 302
    payment_page = client.get(response["Location"])  # our payment page sends on to the sandbox gateway
    cashier_url = payment_page["Location"]
    trade_no = re.search(r"/payments/sandbox/pay/(\w+)/", cashier_url).group(1)
    assert "¥25.00" in client.get(cashier_url).content.decode()

    # and pays at the sandbox cashier, which notifies the shop over HTTP
    response = client.post(reverse("payments:sandbox_pay", args=[trade_no]))

    # then the order is paid, delivered, and the buyer sees exactly the two codes
    order = Order.objects.get(payment_links__payment__trade_no=trade_no)
    assert response["Location"] == order.get_absolute_url()
    assert order.status == Order.Status.DELIVERED
    assert order.total.amount == 25
    assert PaymentNotification.objects.get().result == PaymentNotification.Result.CONFIRMED
    page = client.get(order.get_absolute_url()).content.decode()
    sold = [s for s in secrets if s in page]
    assert len(sold) == 2
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2
    assert client.get(reverse("orders:status", args=[order.number])).json() == {
        "status": "delivered",
        "waiting": False,
    }
    assert len(mailoutbox) == 1 and order.get_secret_url() in mailoutbox[0].body


def _delivered_guest_order(client, sku, django_capture_on_commit_callbacks):
    from payments.providers import sandbox

    checkout(client, sku)
    order = Order.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("payments:notify", args=["sandbox"]),
            sandbox.build_notification(payments_of(order).get()),
        )
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    return order


def test_only_the_buyer_sees_the_codes(client, sku, shopper, django_capture_on_commit_callbacks):
    from django.test import Client

    order = _delivered_guest_order(client, sku, django_capture_on_commit_callbacks)
    secret = order.codes.first().secret
    assert secret in client.get(order.get_absolute_url()).content.decode()

    anonymous = Client()
    other_user = Client()
    other_user.force_login(shopper)
    for stranger in (anonymous, other_user):
        assert stranger.get(order.get_absolute_url()).status_code == 404
        assert stranger.get(reverse("orders:status", args=[order.number])).status_code == 404
        assert stranger.get(reverse("orders:secret", args=[order.number, "wrong-token"])).status_code == 404

    # the secret link from the e-mail opens the order in a fresh browser
    fresh = Client()
    response = fresh.get(order.get_secret_url(), follow=True)
    assert secret in response.content.decode()


def test_a_members_order_is_hidden_from_other_members(
    client, sku, shopper, user_factory, django_capture_on_commit_callbacks
):
    client.force_login(shopper)
    checkout(client, sku, contact_email="", lookup_password="")
    order = Order.objects.get()
    assert order.user == shopper and order.contact_email == shopper.email
    assert client.get(order.get_absolute_url()).status_code == 200

    client.force_login(user_factory(email="other@example.com"))
    assert client.get(order.get_absolute_url()).status_code == 404
    assert client.get(order.get_secret_url()).status_code == 404

    client.logout()  # the e-mailed link asks the member to sign in, it does not open the order
    assert client.get(order.get_absolute_url()).status_code == 404
    assert client.get(order.get_secret_url())["Location"].startswith("/accounts/login/")


def test_guest_lookup_needs_number_email_and_password(client, sku, django_capture_on_commit_callbacks):
    from django.test import Client

    order = _delivered_guest_order(client, sku, django_capture_on_commit_callbacks)
    url = reverse("orders:lookup")
    visitor = Client()

    by_email_only = visitor.post(url, {"number": "", "contact_email": "guest@example.com", "lookup_password": ""})
    wrong_password = visitor.post(
        url, {"number": order.number, "contact_email": "guest@example.com", "lookup_password": "nope"}
    )
    assert by_email_only.status_code == 400 and wrong_password.status_code == 400
    assert visitor.get(order.get_absolute_url()).status_code == 404

    found = visitor.post(
        url, {"number": order.number, "contact_email": "GUEST@example.com", "lookup_password": "secret-42"}
    )
    assert found["Location"] == order.get_absolute_url()
    assert order.codes.first().secret in visitor.get(order.get_absolute_url()).content.decode()


def test_order_lookup_is_rate_limited_per_ip(client, db, settings):
    settings.ORDER_LOOKUP_RATE = "3/m"
    url = reverse("orders:lookup")
    data = {"number": "20260101000000000000", "contact_email": "x@example.com", "lookup_password": "guess"}

    answers = [client.post(url, data).status_code for _ in range(5)]

    assert answers == [400, 400, 400, 429, 429]


def test_behind_a_proxy_each_shopper_has_their_own_lookup_limit(client, db, settings):
    settings.ORDER_LOOKUP_RATE = "2/m"
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    url = reverse("orders:lookup")
    data = {"number": "20260101000000000000", "contact_email": "x@example.com", "lookup_password": "guess"}

    def attempt(forwarded_for: str) -> int:
        return client.post(url, data, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for).status_code

    guesser = [attempt("198.51.100.1") for _ in range(3)]
    # a forged entry in front of the proxy's own does not buy a fresh allowance
    forged = attempt("203.0.113.99, 198.51.100.1")
    other_shopper = attempt("198.51.100.2")

    assert guesser == [400, 400, 429]
    assert forged == 429
    assert other_shopper == 400


def test_out_of_stock_is_told_clearly_and_reserves_nothing(client, sku):
    response = checkout(client, sku, quantity=6)

    assert response.status_code == 409
    assert "抱歉，该商品库存不足" in response.content.decode()
    assert not Order.objects.exists()
    assert CardCode.objects.filter(status=CardCode.Status.AVAILABLE).count() == 5


def test_hidden_products_cannot_be_bought(client, sku):
    sku.product.is_on_shelf = False
    sku.product.save()

    assert client.get(sku.product.get_absolute_url()).status_code == 404
    assert checkout(client, sku).status_code == 404
    assert not Order.objects.exists()


def test_a_guest_must_leave_an_email_and_lookup_password(client, sku):
    response = checkout(client, sku, contact_email="", lookup_password="")

    assert response.status_code == 400
    assert not Order.objects.exists()


def test_paying_from_the_wallet_delivers_at_once(client, sku, shopper, django_capture_on_commit_callbacks):
    from accounts.services import credit_wallet
    from kamen.money import cny

    credit_wallet(shopper, cny("15.00"), actor=None)
    client.force_login(shopper)

    with django_capture_on_commit_callbacks(execute=True):
        response = checkout(client, sku, quantity=1, payment_method="balance")

    order = Order.objects.get()
    assert response["Location"] == order.get_absolute_url()
    assert order.status == Order.Status.DELIVERED
    shopper.wallet.refresh_from_db()
    assert shopper.wallet.balance.amount == 5


def test_an_insufficient_wallet_cancels_the_order_and_frees_the_codes(client, sku, shopper):
    client.force_login(shopper)

    response = checkout(client, sku, quantity=2, payment_method="balance")

    assert response.status_code == 302
    assert Order.objects.get().status == Order.Status.CANCELLED
    assert CardCode.objects.filter(status=CardCode.Status.AVAILABLE).count() == 5
