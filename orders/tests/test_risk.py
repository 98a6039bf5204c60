"""Risk rules: the blacklist refuses checkout and changes nothing, per-buyer daily limits hold (under
concurrency too, on PostgreSQL), and a paid order that trips a soft rule waits for staff, who release
it to be delivered."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.api_keys import create_api_key
from accounts.services import credit_wallet
from catalog.models import CardCode
from kamen.http import DEVICE_COOKIE, device_fingerprint
from kamen.models import StaffAction
from kamen.testing import factories
from kamen.testing.api import SignedApi
from kamen.testing.threads import run_together
from orders import services
from orders.models import BlockedBuyer, Order, OrderEvent

# The shop says it in Chinese (该账户暂时无法下单，如有疑问请联系客服); the tests read the English msgid.
BLOCKED = "This account cannot place orders right now"
DEVICE = "d3v1ce-c00kie-of-the-browser"


def guest_checkout(client, sku, *, email="guest@example.com", quantity=1, **extra):
    return client.post(
        reverse("orders:place"),
        {
            "sku": sku.pk,
            "quantity": quantity,
            "contact_email": email,
            "lookup_password": "pw-1234",
            "payment_method": "sandbox",
        },
        **extra,
    )


def block(kind, value, **fields) -> BlockedBuyer:
    return services.block_buyer(BlockedBuyer(kind=kind, value=value, reason="test", **fields), actor=None)


def nothing_reserved(sku) -> bool:
    return not CardCode.objects.filter(sku=sku).exclude(status=CardCode.Status.AVAILABLE).exists()


# ----------------------------------------------------------------------------------------- blacklist


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (BlockedBuyer.Kind.EMAIL, "Guest@Example.com"),
        (BlockedBuyer.Kind.IP, "127.0.0.1"),
        (BlockedBuyer.Kind.IP, "127.0.0.0/8"),
        (BlockedBuyer.Kind.DEVICE, device_fingerprint(DEVICE)),
    ],
)
def test_a_blocked_buyer_is_refused_at_checkout_with_the_message_and_nothing_is_created(
    client, sku, kind, value, english
):
    # given
    block(kind, value)
    client.cookies[DEVICE_COOKIE] = DEVICE

    # when
    response = guest_checkout(client, sku)

    # then
    assert response.status_code == 400
    assert BLOCKED in response.content.decode()
    assert not Order.objects.exists()
    assert nothing_reserved(sku)


def test_an_expired_entry_or_another_network_does_not_refuse(client, sku):
    block(BlockedBuyer.Kind.EMAIL, "guest@example.com", expires_at=timezone.now() - timedelta(minutes=1))
    block(BlockedBuyer.Kind.IP, "10.0.0.0/8")

    response = guest_checkout(client, sku)

    assert response.status_code == 302
    assert Order.objects.count() == 1


def test_a_blocked_member_is_refused_through_the_api_with_nothing_paid(db, sku, english):
    # given
    reseller = factories.UserFactory(email="reseller@example.com")
    credit_wallet(reseller, Money("100.00", "CNY"), actor=None, note="test")
    made = create_api_key(reseller, name="risk")
    block(BlockedBuyer.Kind.EMAIL, "reseller@example.com")

    # when
    answer = SignedApi(made.key, made.secret).post(
        "/api/v1/orders/", {"sku": sku.pk, "quantity": 1, "client_order_no": "R-1"}
    )

    # then
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ORDER_REFUSED"
    assert BLOCKED in answer.json()["error"]["message"]
    assert not Order.objects.exists() and nothing_reserved(sku)
    reseller.wallet.refresh_from_db()
    assert reseller.wallet.balance.amount == Decimal("100.00")


def test_adding_and_removing_an_entry_in_admin_leaves_audit_rows(client, staff):
    client.force_login(staff)

    added = client.post(
        reverse("admin:orders_blockedbuyer_add"),
        {"kind": "ip", "value": " 203.0.113.7/24 ", "reason": "chargebacks", "expires_at_0": "", "expires_at_1": ""},
    )
    entry = BlockedBuyer.objects.get()
    client.post(reverse("admin:orders_blockedbuyer_delete", args=[entry.pk]), {"post": "yes"})

    assert added.status_code == 302
    assert entry.value == "203.0.113.0/24" and entry.created_by == staff
    assert not BlockedBuyer.objects.exists()
    rows = list(StaffAction.objects.filter(kind=StaffAction.Kind.RISK_RULE).order_by("id"))
    assert [(row.before.get("value"), row.after.get("value")) for row in rows] == [
        (None, "203.0.113.0/24"),
        ("203.0.113.0/24", None),
    ]
    assert all(row.actor == staff for row in rows)


def test_an_entry_that_can_never_match_is_refused_in_admin(client, staff):
    client.force_login(staff)

    response = client.post(
        reverse("admin:orders_blockedbuyer_add"),
        {"kind": "ip", "value": "not-an-address", "reason": "x", "expires_at_0": "", "expires_at_1": ""},
    )

    assert response.status_code == 200
    assert not BlockedBuyer.objects.exists() and not StaffAction.objects.exists()


# ------------------------------------------------------------------------------------------ daily limit


def test_the_daily_limit_counts_todays_pieces_of_a_member(db, sku, shopper, english):
    sku.daily_limit_per_buyer = 3
    sku.save()
    factories.place_order(sku, quantity=2, user=shopper)

    with pytest.raises(services.DailyLimitReached, match="Limit: 3 per person per day"):
        factories.place_order(sku, quantity=2, user=shopper)
    factories.place_order(sku, quantity=1, user=shopper)
    assert Order.objects.filter(user=shopper).count() == 2


def test_cancelled_orders_and_yesterdays_do_not_count(db, sku, shopper):
    sku.daily_limit_per_buyer = 2
    sku.save()
    services.cancel_order(factories.place_order(sku, quantity=2, user=shopper).order, actor=shopper)
    yesterday = factories.place_order(sku, quantity=2, user=shopper).order
    Order.objects.filter(pk=yesterday.pk).update(created_at=services.risk.day_start() - timedelta(seconds=1))

    factories.place_order(sku, quantity=2, user=shopper)

    assert Order.objects.filter(user=shopper).count() == 3


def test_a_guest_is_the_same_buyer_by_device_or_address_with_a_new_email(client, sku, english):
    sku.daily_limit_per_buyer = 1
    sku.save()
    client.cookies[DEVICE_COOKIE] = DEVICE
    assert guest_checkout(client, sku, email="first@example.com").status_code == 302

    response = guest_checkout(client, sku, email="second@example.com")

    assert response.status_code == 400
    assert "Limit: 1 per person per day" in response.content.decode()
    assert Order.objects.count() == 1
    assert Order.objects.get().device == device_fingerprint(DEVICE)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_daily_limit_holds_when_one_buyer_checks_out_six_times_at_once():
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 10)
    sku.daily_limit_per_buyer = 2
    sku.save()
    buyer = factories.UserFactory(email="racer@example.com")

    def checkout():
        return factories.place_order(sku, quantity=1, user=buyer)

    # when
    outcomes = run_together([checkout] * 6)

    # then
    placed = [outcome for outcome in outcomes if isinstance(outcome, services.PlacedOrder)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, services.DailyLimitReached)]
    assert (len(placed), len(refused)) == (2, 4), outcomes
    assert Order.objects.filter(user=buyer).count() == 2
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.RESERVED).count() == 2


# ------------------------------------------------------------------------------------------ soft rules


def test_a_buyer_blacklisted_after_placing_is_held_after_payment_and_staff_release_delivers(
    db, sku, shopper, staff, paid_order, django_capture_on_commit_callbacks, english
):
    # given: blocked between checkout and payment
    def blocked_meanwhile(order):
        block(BlockedBuyer.Kind.EMAIL, shopper.email)

    # when
    order = paid_order(sku, quantity=1, user=shopper, before_payment=blocked_meanwhile)

    # then: paid, held with the rule named, its code still held for it
    assert order.status == Order.Status.DELIVERY_FAILED
    assert "blacklisted" in order.abnormal_reason
    assert order.paid_at is not None
    assert CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).count() == 1
    assert services.is_held_for_review(order)

    with django_capture_on_commit_callbacks(execute=True):
        services.release_held_order(order, actor=staff)

    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.abnormal_reason == ""
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 1
    released = order.events.get(type=OrderEvent.Type.RISK_RELEASED)
    assert released.actor == staff and released.to_status == Order.Status.PAID


def test_a_large_order_from_a_new_account_is_held_and_an_old_account_is_not(db, settings, paid_order):
    settings.RISK_HOLD_NEW_BUYER_TOTAL = Decimal("15")
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 4)
    new = factories.UserFactory(email="new@example.com")
    old = factories.UserFactory(email="old@example.com", date_joined=timezone.now() - timedelta(days=30))

    held = paid_order(sku, quantity=2, user=new)
    delivered = paid_order(sku, quantity=2, user=old)

    assert held.status == Order.Status.DELIVERY_FAILED and "¥20.00" in held.abnormal_reason
    assert delivered.status == Order.Status.DELIVERED


def test_a_burst_of_paid_orders_from_one_address_holds_the_next(db, settings, sku, paid_order):
    settings.RISK_BURST_ORDERS = 2
    earlier = [paid_order(sku, quantity=1) for _ in range(2)]
    Order.objects.filter(pk__in=[order.pk for order in earlier]).update(buyer_ip="198.51.100.9")

    def from_same_address(order):
        Order.objects.filter(pk=order.pk).update(buyer_ip="198.51.100.9")

    third = paid_order(sku, quantity=1, before_payment=from_same_address)

    assert [order.status for order in earlier] == [Order.Status.DELIVERED] * 2
    assert third.status == Order.Status.DELIVERY_FAILED


def test_staff_release_a_held_order_from_the_staff_queue(
    client, sku, shopper, staff, paid_order, django_capture_on_commit_callbacks
):
    order = paid_order(sku, quantity=1, user=shopper, before_payment=lambda o: block("email", shopper.email))
    client.force_login(staff)

    page = client.get(reverse("admin:orders_staffqueueorder_change", args=[order.pk]))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:orders_staffqueueorder_release", args=[order.pk]))

    assert reverse("admin:orders_staffqueueorder_release", args=[order.pk]) in page.content.decode()
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_an_order_that_failed_for_stock_cannot_be_released_as_a_risk_hold(db, sku, staff, paid_order, english):
    order = paid_order(sku, quantity=1, deliver=False)
    with pytest.raises(Exception, match="risk rule"):
        services.release_held_order(order, actor=staff)
