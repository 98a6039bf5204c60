"""Refunds in admin: staff refund an order, decide buyers' requests and re-send failed refunds."""

import functools

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from djmoney.money import Money

from accounts.models import Wallet, WalletEntry
from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.factories import order_of
from kamen.testing.pages import messages_of
from orders import services as order_services
from orders.models import Order
from payments import services
from payments.models import Refund
from payments.providers.base import RefundResult

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def paid_order(paid_order, sku):
    """Paid orders of the ¥10.00 `sku`: two codes unless told otherwise."""
    return functools.partial(paid_order, sku)


@pytest.fixture
def clerk(db, user_factory):
    """Staff who may look at orders and refunds, and nothing more."""
    user = user_factory(email="clerk@example.com", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_order", "view_refund", "view_payment"]))
    return user


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST as the signed-in user, running what the view enqueues on commit (the refund is sent then)."""

    def send(url, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data or {})

    return send


def refund_form_url(order) -> str:
    return reverse("admin:payments_refund_order", args=[order.pk])


def refund_url(name: str, refund) -> str:
    return reverse(f"admin:payments_refund_{name}", args=[refund.pk])


# ---------------------------------------------------------------------------------------------------
# Refunding an order
# ---------------------------------------------------------------------------------------------------
def test_staff_refund_an_order_from_its_admin_form(client, post, staff, shopper, paid_order):
    # given
    order = paid_order(user=shopper)
    client.force_login(staff)
    page = client.get(refund_form_url(order))
    assert page.status_code == 200 and "¥20.00" in page.content.decode()
    form = {
        "refund_no": page.context["form"]["refund_no"].value(),
        "amount": "12.50",
        "destination": "wallet",
        "reason": "goodwill",
    }

    # when
    response = post(refund_form_url(order), form)

    # then
    refund = Refund.objects.get()
    assert response.status_code == 302 and response.url == refund_url("change", refund)
    assert refund.refund_no == form["refund_no"] and refund.state == Refund.State.SUCCEEDED
    assert refund.amount == Money("12.50", "CNY") and refund.destination == Refund.Destination.WALLET
    assert refund.decided_by == staff and refund.reason == "goodwill"
    assert client.get(response.url).status_code == 200
    assert "¥7.50" in client.get(refund_form_url(order)).content.decode()


def test_resending_the_refund_form_refunds_once(client, post, staff, shopper, paid_order):
    order = paid_order(user=shopper)
    client.force_login(staff)
    refund_no = client.get(refund_form_url(order)).context["form"]["refund_no"].value()
    form = {"refund_no": refund_no, "amount": "12.50", "destination": "wallet"}
    first = post(refund_form_url(order), form)

    again = post(refund_form_url(order), form)

    assert again.status_code == 302 and again.url == first.url
    assert Refund.objects.count() == 1
    assert WalletEntry.objects.filter(kind=WalletEntry.Kind.REFUND).count() == 1
    assert Wallet.objects.get(user=shopper).balance == Money("12.50", "CNY")


def test_a_guest_orders_form_offers_only_the_original_payment(client, post, staff, paid_order):
    order = paid_order(user=None)
    client.force_login(staff)

    page = client.get(refund_form_url(order))
    response = post(refund_form_url(order), {"refund_no": "R-1", "amount": "5.00", "destination": "wallet"})

    assert [value for value, _ in page.context["form"].fields["destination"].choices] == ["original"]
    assert response.status_code == 200 and "destination" in response.context["form"].errors
    assert not Refund.objects.exists()


def test_the_form_refuses_more_than_is_left(client, post, staff, paid_order):
    order = paid_order()
    client.force_login(staff)

    response = post(refund_form_url(order), {"refund_no": "R-2", "amount": "20.01", "destination": "original"})

    assert response.status_code == 200 and "¥20.00" in " ".join(response.context["form"].non_field_errors())
    assert not Refund.objects.exists()


def test_an_unpaid_order_has_nothing_to_refund(client, staff, sku):
    order = factories.place_order(sku, quantity=1).order
    client.force_login(staff)

    response = client.get(refund_form_url(order))

    assert response.status_code == 302 and response.url == reverse("admin:orders_order_change", args=[order.pk])
    assert any("no confirmed payment" in message for message in messages_of(response))


def test_refunding_needs_the_add_refund_permission(client, post, clerk, paid_order):
    order = paid_order()
    client.force_login(clerk)

    assert client.get(refund_form_url(order)).status_code == 403
    form = {"refund_no": "R-3", "amount": "20.00", "destination": "original"}
    assert post(refund_form_url(order), form).status_code == 403
    assert not Refund.objects.exists()


# ---------------------------------------------------------------------------------------------------
# Deciding a buyer's request
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def requested(paid_order, shopper) -> Refund:
    order = paid_order(user=shopper)
    return order_services.request_refund(order, user=shopper, reason="bought twice")


def test_staff_approve_a_buyers_request(client, post, staff, shopper, requested):
    client.force_login(staff)
    page = client.get(refund_url("change", requested))
    assert page.status_code == 200 and page.context["approve_form"] is not None
    assert refund_url("approve", requested) in page.content.decode()

    response = post(refund_url("approve", requested), {"amount": "20.00", "destination": "wallet", "void_codes": "on"})

    assert response.status_code == 302 and response.url == refund_url("change", requested)
    requested.refresh_from_db()
    assert requested.state == Refund.State.SUCCEEDED and requested.decided_by == staff
    assert requested.destination == Refund.Destination.WALLET and requested.void_codes
    assert Wallet.objects.get(user=shopper).balance == Money("20.00", "CNY")
    statuses = set(CardCode.objects.filter(order=order_of(requested.payment)).values_list("status", flat=True))
    assert statuses == {CardCode.Status.VOID}


def test_a_request_is_approved_only_once(client, post, staff, shopper, requested):
    client.force_login(staff)
    post(refund_url("approve", requested), {"amount": "20.00", "destination": "wallet"})

    again = post(refund_url("approve", requested), {"amount": "20.00", "destination": "wallet"})

    assert again.status_code == 302
    assert any("already been decided" in message for message in messages_of(again))
    assert WalletEntry.objects.filter(kind=WalletEntry.Kind.REFUND).count() == 1
    assert Wallet.objects.get(user=shopper).balance == Money("20.00", "CNY")


def test_a_request_approved_for_less_leaves_the_rest_to_refund(client, post, staff, requested):
    client.force_login(staff)

    post(refund_url("approve", requested), {"amount": "8.00", "destination": "original"})

    requested.refresh_from_db()
    assert requested.state == Refund.State.SUCCEEDED and requested.amount == Money("8.00", "CNY")
    order = order_of(requested)
    assert order.refund_status == Order.RefundStatus.PARTLY
    assert services.refundable_amount(requested.payment) == 12


def test_staff_decline_with_a_note_the_buyer_reads(client, post, staff, shopper, requested):
    client.force_login(staff)

    response = post(refund_url("decline", requested), {"note": "The codes were redeemed on 3 May."})

    assert response.status_code == 302
    requested.refresh_from_db()
    assert requested.state == Refund.State.DECLINED and requested.decided_by == staff
    client.force_login(shopper)
    page = client.get(order_of(requested.payment).get_absolute_url())
    assert "The codes were redeemed on 3 May." in page.content.decode()


def test_a_decline_needs_a_note(client, post, staff, requested):
    client.force_login(staff)

    response = post(refund_url("decline", requested), {"note": "  "})

    assert any("Say why" in message for message in messages_of(response))
    requested.refresh_from_db()
    assert requested.state == Refund.State.REQUESTED


def test_deciding_needs_the_change_refund_permission(client, post, clerk, requested):
    client.force_login(clerk)

    approved = post(refund_url("approve", requested), {"amount": "20.00", "destination": "original"})
    declined = post(refund_url("decline", requested), {"note": "no"})

    assert (approved.status_code, declined.status_code) == (403, 403)
    requested.refresh_from_db()
    assert requested.state == Refund.State.REQUESTED
    assert client.get(refund_url("change", requested)).context["can_act"] is False


def test_staff_send_a_failed_refund_again(client, post, staff, scripted_gateway, paid_order):
    # given a refund the gateway refused
    scripted_gateway.refund_result = RefundResult("failed", message="insufficient merchant balance")
    client.force_login(staff)
    order = paid_order(method="scripted")
    post(refund_form_url(order), {"refund_no": "R-FAILS-ONCE", "amount": "20.00", "destination": "original"})
    refund = Refund.objects.get()
    assert refund.state == Refund.State.FAILED
    assert refund_url("retry", refund) in client.get(refund_url("change", refund)).content.decode()

    # when
    scripted_gateway.refund_result = RefundResult("succeeded", gateway_refund_id="SR1")
    response = post(refund_url("retry", refund))

    # then
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert [call for call in scripted_gateway.calls if call[0] == "refund"] == [("refund", "R-FAILS-ONCE")] * 2
    again = post(refund_url("retry", refund))
    assert any("Only a failed refund" in message for message in messages_of(again))


# ---------------------------------------------------------------------------------------------------
# Around refunds
# ---------------------------------------------------------------------------------------------------
def test_the_order_page_links_to_the_refund_form_for_staff_who_may_refund(client, staff, clerk, paid_order):
    order = paid_order()
    change_url = reverse("admin:orders_order_change", args=[order.pk])

    client.force_login(staff)
    assert refund_form_url(order) in client.get(change_url).content.decode()
    client.force_login(clerk)
    page = client.get(change_url)
    assert page.status_code == 200 and refund_form_url(order) not in page.content.decode()


def test_the_payment_list_shows_the_live_providers(client, staff):
    client.force_login(staff)

    response = client.get(reverse("admin:payments_payment_changelist"))

    html = response.content.decode()
    assert 'id="live-providers"' in html and "<code>sandbox</code>" in html
    live = {provider["code"]: provider for provider in response.context["live_providers"]}
    assert live["sandbox"]["available"] and live["balance"]["available"]


def test_the_refund_list_costs_the_same_queries_for_more_refunds(client, post, staff, paid_order):
    order = paid_order()
    client.force_login(staff)
    changelist = reverse("admin:payments_refund_changelist")

    def refund(number: str) -> None:
        post(refund_form_url(order), {"refund_no": number, "amount": "1.00", "destination": "original"})

    refund("R-LIST-1")
    with CaptureQueriesContext(connection) as one:
        assert client.get(changelist).status_code == 200
    for n in range(2, 6):
        refund(f"R-LIST-{n}")
    with CaptureQueriesContext(connection) as five:
        response = client.get(changelist)

    assert response.context["cl"].result_count == 5
    assert len(five) == len(one)
