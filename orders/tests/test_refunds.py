"""Refunds through the services, the gateway and the buyer's order page: money goes back once, ledgers agree."""

import functools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Wallet, WalletEntry
from accounts.services import credit_wallet
from catalog import services as catalog_services
from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.factories import order_of
from kamen.testing.pages import messages_of
from kamen.testing.threads import run_together
from orders import services as order_services
from orders.models import Order, OrderEvent
from orders.selectors import SESSION_KEY, payments_of
from payments import services
from payments.models import Payment, PaymentNotification, Refund, new_refund_no
from payments.providers.base import GatewayError, RefundResult
from payments.services import RefundError

NOTIFY_URL = "/payments/scripted/notify/"


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def paid_order(paid_order, sku):
    """Paid orders of the ¥10.00 `sku`: two codes unless told otherwise."""
    return functools.partial(paid_order, sku)


@pytest.fixture
def refund_order(staff, django_capture_on_commit_callbacks):
    """Staff refund an order; the refund is sent after commit, as in production."""

    def make(order, amount, destination="original", **kwargs) -> Refund:
        with django_capture_on_commit_callbacks(execute=True):
            refund = order_services.create_refund(
                order, amount=Decimal(amount), destination=destination, actor=staff, **kwargs
            )
        refund.refresh_from_db()
        return refund

    return make


def refund_events(order) -> list[str]:
    return list(
        OrderEvent.objects.filter(order=order, type__startswith="refund").order_by("id").values_list("type", flat=True)
    )


def balance_of(user) -> Money:
    return Wallet.objects.get(user=user).balance


# ---------------------------------------------------------------------------------------------------
# Staff refunds through the services
# ---------------------------------------------------------------------------------------------------
def test_a_full_refund_to_the_original_payment_keeps_the_delivered_codes(paid_order, refund_order):
    # given
    order = paid_order()

    # when
    refund = refund_order(order, "20.00", reason="bought by mistake")

    # then
    assert refund.state == Refund.State.SUCCEEDED
    assert refund.gateway_refund_id == f"SBX{refund.refund_no}" and refund.completed_at is not None
    order.refresh_from_db()
    assert order.refund_status == Order.RefundStatus.FULL
    assert order.refunded == order.total == Money("20.00", "CNY")
    assert order.status == Order.Status.DELIVERED
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2
    refunded = OrderEvent.objects.get(order=order, type="refunded")
    assert refunded.data == {"refund": refund.refund_no, "amount": "20.00", "voided_codes": 0}
    assert services.refundable_amount(refund.payment) == Decimal("0.00")
    assert not WalletEntry.objects.exists()


def test_partial_refunds_to_the_wallet_credit_it_once_each(paid_order, refund_order, shopper):
    order = paid_order(user=shopper)

    first = refund_order(order, "5.00", "wallet")
    order.refresh_from_db()
    assert order.refund_status == Order.RefundStatus.PARTLY and order.refunded == Money("5.00", "CNY")

    second = refund_order(order, "15.00", "wallet")
    services.execute_refund(first.pk)  # a task delivered twice changes nothing

    order.refresh_from_db()
    assert order.refund_status == Order.RefundStatus.FULL and order.refunded == order.total
    assert [refund.state for refund in (first, second)] == [Refund.State.SUCCEEDED] * 2
    entries = WalletEntry.objects.filter(wallet__user=shopper).order_by("id")
    assert [(entry.kind, entry.amount.amount, entry.reference) for entry in entries] == [
        (WalletEntry.Kind.REFUND, Decimal("5.00"), first.refund_no),
        (WalletEntry.Kind.REFUND, Decimal("15.00"), second.refund_no),
    ]
    assert balance_of(shopper) == Money("20.00", "CNY")
    assert order.status == Order.Status.DELIVERED


def test_a_refund_beyond_what_is_left_is_refused_and_writes_nothing(paid_order, refund_order, shopper):
    order = paid_order(user=shopper)
    refund_order(order, "15.00", "wallet")

    with pytest.raises(RefundError, match=r"¥5\.00"):
        refund_order(order, "5.01", "wallet")

    assert Refund.objects.count() == 1
    assert refund_events(order) == ["refund_approved", "refunded"]
    assert balance_of(shopper) == Money("15.00", "CNY")


@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00", "0.001", "10.005"])
def test_a_refund_must_be_whole_fen_above_zero(paid_order, refund_order, amount):
    order = paid_order()

    with pytest.raises(RefundError, match="more than zero"):
        refund_order(order, amount)

    assert not Refund.objects.exists()
    assert refund_events(order) == []


def test_a_guest_order_cannot_be_refunded_to_a_wallet(paid_order, refund_order):
    order = paid_order(user=None)

    with pytest.raises(RefundError, match="guest order has no wallet"):
        refund_order(order, "20.00", "wallet")

    assert not Refund.objects.exists() and not WalletEntry.objects.exists()


def test_voided_codes_show_as_voided_on_the_order_page(client, settings, paid_order, refund_order, shopper):
    # given
    order = paid_order(user=shopper)

    # when
    refund_order(order, "20.00", void_codes=True)

    # then
    assert set(CardCode.objects.filter(order=order).values_list("status", flat=True)) == {CardCode.Status.VOID}
    assert OrderEvent.objects.get(order=order, type="refunded").data["voided_codes"] == 2
    settings.LANGUAGE_CODE = "zh-hans"  # as buyers see it
    client.force_login(shopper)
    response = client.get(order.get_absolute_url())
    html = response.content.decode()
    assert [code["void"] for code in response.context["codes"]] == [True, True]
    assert html.count('class="code is-void"') == 2
    assert "已作废" in html or "Voided after refund" in html


def undelivered(status, sku, paid_order) -> Order:
    if status == Order.Status.PAID:
        return paid_order(deliver=False)
    # One code held at checkout is found bad before delivery, and no stock is left to replace it.
    payment = factories.place_order(sku).payment
    bad = CardCode.objects.filter(order=order_of(payment)).order_by("id").first()
    CardCode.objects.filter(pk=bad.pk).update(status=CardCode.Status.VOID)
    free = CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).values_list("pk", flat=True)
    catalog_services.void_codes(free, actor=None)
    factories.confirm(payment)
    return order_services.deliver_order(order_of(payment).pk)


@pytest.mark.parametrize("status", [Order.Status.PAID, Order.Status.DELIVERY_FAILED])
def test_a_full_refund_of_an_undelivered_order_cancels_it_and_frees_its_codes(sku, paid_order, refund_order, status):
    # given
    order = undelivered(status, sku, paid_order)
    assert order.status == status
    held = CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).count()
    assert held > 0
    in_stock = CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count()

    # when
    refund_order(order, "20.00")
    order_services.deliver_order(order.pk)  # the delivery still queued comes too late

    # then
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.refund_status == Order.RefundStatus.FULL
    assert not CardCode.objects.filter(order=order, status__in=[CardCode.Status.RESERVED, CardCode.Status.SOLD])
    assert CardCode.objects.filter(sku=sku, status=CardCode.Status.AVAILABLE).count() == in_stock + held
    assert OrderEvent.objects.filter(order=order, type="cancelled_refunded").count() == 1


def test_a_partial_refund_of_an_undelivered_order_keeps_it_and_its_codes(paid_order, refund_order):
    order = paid_order(deliver=False)

    refund_order(order, "5.00")

    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refund_status == Order.RefundStatus.PARTLY
    assert CardCode.objects.filter(order=order, status=CardCode.Status.RESERVED).count() == 2
    order_services.deliver_order(order.pk)
    assert Order.objects.get(pk=order.pk).status == Order.Status.DELIVERED


def test_a_wallet_paid_order_refunded_to_the_original_payment_goes_back_to_the_wallet(
    paid_order, refund_order, shopper, staff
):
    credit_wallet(shopper, Money("30.00", "CNY"), actor=staff, note="top-up")
    order = paid_order(user=shopper, method="balance")
    assert balance_of(shopper) == Money("10.00", "CNY")

    refund = refund_order(order, "20.00", "original")

    assert refund.state == Refund.State.SUCCEEDED and refund.gateway_refund_id == ""
    assert balance_of(shopper) == Money("30.00", "CNY")
    entry = WalletEntry.objects.get(kind=WalletEntry.Kind.REFUND)
    assert entry.reference == refund.refund_no and entry.amount == Money("20.00", "CNY")
    assert Order.objects.get(pk=order.pk).refund_status == Order.RefundStatus.FULL


def test_the_same_refund_number_twice_makes_one_refund(paid_order, refund_order):
    order = paid_order()
    refund_no = new_refund_no()  # made once with the admin form, sent twice

    first = refund_order(order, "5.00", refund_no=refund_no)
    again = refund_order(order, "5.00", refund_no=refund_no)

    assert again.pk == first.pk and Refund.objects.count() == 1
    order.refresh_from_db()
    assert order.refunded == Money("5.00", "CNY")
    assert refund_events(order) == ["refund_approved", "refunded"]


def test_a_refund_number_of_another_order_is_refused(paid_order, refund_order):
    first, second = paid_order(), paid_order()
    taken = refund_order(first, "5.00").refund_no

    with pytest.raises(RefundError):
        refund_order(second, "5.00", refund_no=taken)
    assert Refund.objects.count() == 1


# ---------------------------------------------------------------------------------------------------
# What the gateway answers
# ---------------------------------------------------------------------------------------------------
def test_a_refund_still_processing_is_finished_by_the_sync_job(scripted_gateway, paid_order, refund_order):
    # given
    scripted_gateway.refund_result = RefundResult("processing", gateway_refund_id="SR7")
    scripted_gateway.refund_query_result = RefundResult("processing")
    order = paid_order(method="scripted")
    refund = refund_order(order, "8.00")
    assert refund.state == Refund.State.PROCESSING and refund.gateway_refund_id == "SR7"
    assert services.sync_processing_refunds() == 0

    # when
    scripted_gateway.refund_query_result = RefundResult("succeeded", gateway_refund_id="SR7")
    changed = services.sync_processing_refunds()

    # then
    assert changed == 1
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    order.refresh_from_db()
    assert order.refund_status == Order.RefundStatus.PARTLY and order.refunded == Money("8.00", "CNY")
    assert scripted_gateway.calls.count(("query_refund", refund.refund_no)) == 2


def test_a_failed_refund_is_sent_again_under_the_same_number(
    scripted_gateway, paid_order, refund_order, staff, django_capture_on_commit_callbacks
):
    # given the gateway accepts the refund, then reports it failed
    scripted_gateway.refund_result = RefundResult("processing")
    scripted_gateway.refund_query_result = RefundResult("failed", message="payer account closed")
    order = paid_order(method="scripted")
    refund = refund_order(order, "20.00")
    services.sync_processing_refunds()
    refund.refresh_from_db()
    assert refund.state == Refund.State.FAILED and refund.message == "payer account closed"
    order.refresh_from_db()
    assert order.refund_status == "" and order.refunded == Money("0.00", "CNY")
    assert services.refundable_amount(refund.payment) == Decimal("20.00")

    # when staff send it again
    scripted_gateway.refund_result = RefundResult("succeeded", gateway_refund_id="SR2")
    with django_capture_on_commit_callbacks(execute=True):
        order_services.retry_refund(refund, actor=staff)

    # then
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED and refund.gateway_refund_id == "SR2"
    assert [call for call in scripted_gateway.calls if call[0] == "refund"] == [("refund", refund.refund_no)] * 2
    assert Order.objects.get(pk=order.pk).refund_status == Order.RefundStatus.FULL
    with pytest.raises(RefundError):
        order_services.retry_refund(refund, actor=staff)


def test_an_unknown_gateway_outcome_is_sent_again_after_two_minutes(scripted_gateway, paid_order, refund_order):
    scripted_gateway.refund_result = GatewayError("timeout")
    order = paid_order(method="scripted")
    refund = refund_order(order, "20.00")
    assert refund.state == Refund.State.PENDING and refund.message == "timeout"
    assert services.sync_processing_refunds() == 0  # too soon: the first attempt may still be answering

    scripted_gateway.refund_result = RefundResult("succeeded", gateway_refund_id="SR3")
    changed = services.sync_processing_refunds(now=timezone.now() + timedelta(minutes=3))

    assert changed == 1
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert scripted_gateway.calls == [("refund", refund.refund_no)] * 2
    assert Order.objects.get(pk=order.pk).refunded == Money("20.00", "CNY")


def refund_notice(refund, status="SUCCESS", **overrides):
    return {
        "kind": "refund",
        "trade_no": refund.payment.trade_no,
        "refund_no": refund.refund_no,
        "status": status,
        **overrides,
    }


@pytest.fixture
def processing_refund(scripted_gateway, paid_order, refund_order) -> Refund:
    scripted_gateway.refund_result = RefundResult("processing", gateway_refund_id="SR5")
    refund = refund_order(paid_order(method="scripted"), "20.00")
    assert refund.state == Refund.State.PROCESSING
    return refund


def test_a_refund_notification_finishes_a_processing_refund_once(client, processing_refund):
    first = client.post(NOTIFY_URL, refund_notice(processing_refund))
    again = client.post(NOTIFY_URL, refund_notice(processing_refund))

    assert (first.content, again.content) == (b"success", b"success")
    processing_refund.refresh_from_db()
    assert processing_refund.state == Refund.State.SUCCEEDED
    assert processing_refund.gateway_refund_id == "SR5"
    notifications = PaymentNotification.objects.order_by("id")
    assert [n.result for n in notifications] == [PaymentNotification.Result.REFUND] * 2
    assert all(n.verified and n.payment_id == processing_refund.payment_id for n in notifications)
    assert "nothing changed" in notifications[1].message
    order = order_of(processing_refund)
    assert order.refunded == order.total
    assert OrderEvent.objects.filter(order=order, type="refunded").count() == 1


def test_a_refund_failure_notification_marks_the_refund_failed(client, processing_refund):
    client.post(NOTIFY_URL, refund_notice(processing_refund, status="FAIL"))

    processing_refund.refresh_from_db()
    assert processing_refund.state == Refund.State.FAILED
    assert order_of(processing_refund).refunded == Money("0.00", "CNY")


def test_a_resent_refund_failure_notification_changes_nothing_twice(client, processing_refund):
    client.post(NOTIFY_URL, refund_notice(processing_refund, status="FAIL"))
    client.post(NOTIFY_URL, refund_notice(processing_refund, status="FAIL"))

    events = OrderEvent.objects.filter(order_id=order_of(processing_refund.payment).pk, type="refund_failed")
    assert events.count() == 1


def test_a_refund_notification_for_a_refund_not_ours_changes_nothing(client, processing_refund):
    response = client.post(NOTIFY_URL, refund_notice(processing_refund, refund_no="R-NOT-OURS"))

    assert response.content == b"success"
    notification = PaymentNotification.objects.get()
    assert notification.result == PaymentNotification.Result.REFUND and "no refund" in notification.message
    processing_refund.refresh_from_db()
    assert processing_refund.state == Refund.State.PROCESSING
    assert order_of(processing_refund).refund_status == ""


def test_a_refund_notification_never_confirms_a_pending_payment(client, scripted_gateway, sku):
    payment = factories.place_order(sku, "scripted").payment

    client.post(
        NOTIFY_URL, {"kind": "refund", "trade_no": payment.trade_no, "refund_no": new_refund_no(), "status": "SUCCESS"}
    )

    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert order_of(payment).status == Order.Status.PENDING_PAYMENT
    assert PaymentNotification.objects.get().result == PaymentNotification.Result.REFUND
    assert not CardCode.objects.filter(status=CardCode.Status.SOLD).exists()


# ---------------------------------------------------------------------------------------------------
# The buyer's request on the order page
# ---------------------------------------------------------------------------------------------------
def ask(client, order, reason="The code does not work"):
    return client.post(reverse("orders:request_refund", args=[order.number]), {"reason": reason})


def test_the_buyer_asks_for_what_is_left_from_the_order_page(client, paid_order, refund_order, shopper):
    # given ¥5.00 of ¥20.00 already refunded
    order = paid_order(user=shopper)
    refund_order(order, "5.00", "wallet")
    client.force_login(shopper)

    # when
    response = ask(client, order)

    # then
    assert response.status_code == 302 and response.url == order.get_absolute_url()
    request = Refund.objects.get(state=Refund.State.REQUESTED)
    assert request.amount == Money("15.00", "CNY") and request.requested_by == shopper
    assert request.reason == "The code does not work" and request.destination == Refund.Destination.ORIGINAL
    assert OrderEvent.objects.filter(order=order, type="refund_requested").count() == 1
    page = client.get(order.get_absolute_url())
    assert "The code does not work" in page.content.decode()
    assert "refund-state-requested" in page.content.decode()
    assert page.context["refund_form"] is None


def test_a_guest_who_opened_the_order_can_ask_too(client, paid_order):
    order = paid_order(user=None)
    session = client.session
    session[SESSION_KEY] = [order.number]  # as after the e-mailed link or an order lookup
    session.save()

    ask(client, order)

    request = Refund.objects.get()
    assert request.state == Refund.State.REQUESTED and request.requested_by is None
    assert request.amount == order.total


def test_a_second_request_while_one_is_open_is_refused(client, paid_order, shopper):
    order = paid_order(user=shopper)
    client.force_login(shopper)
    ask(client, order)

    response = ask(client, order, reason="Asking again")

    assert any("already being handled" in message for message in messages_of(response))
    assert Refund.objects.count() == 1


def test_a_request_without_a_reason_is_refused(client, paid_order, shopper):
    order = paid_order(user=shopper)
    client.force_login(shopper)

    response = ask(client, order, reason="   ")

    assert response.status_code == 302 and messages_of(response) == ["This field is required."]
    assert not Refund.objects.exists()
    with pytest.raises(RefundError):
        order_services.request_refund(order, user=shopper, reason="  ")


def test_no_one_else_can_ask_for_a_refund_of_an_order(client, paid_order, shopper, user_factory):
    order = paid_order(user=shopper)

    assert ask(client, order).status_code == 404
    client.force_login(user_factory(email="other@example.com"))
    assert ask(client, order).status_code == 404
    assert not Refund.objects.exists()


def test_an_unpaid_order_cannot_be_refunded(client, sku, shopper):
    order = factories.place_order(sku, user=shopper).order
    client.force_login(shopper)

    response = ask(client, order)

    assert any("no confirmed payment" in message for message in messages_of(response))
    assert not Refund.objects.exists()
    assert list(OrderEvent.objects.filter(order=order).values_list("type", flat=True)) == ["placed"]


def test_the_order_page_shows_the_staff_reply_to_a_declined_request(client, paid_order, shopper, staff):
    order = paid_order(user=shopper)
    request = order_services.request_refund(order, user=shopper, reason="Changed my mind")

    order_services.decline_refund(request, actor=staff, note="The codes were already redeemed.")

    client.force_login(shopper)
    page = client.get(order.get_absolute_url())
    html = page.content.decode()
    assert "The codes were already redeemed." in html and "refund-state-declined" in html
    assert page.context["refund_form"] is not None  # a declined request may be followed by another


# ---------------------------------------------------------------------------------------------------
# Ledgers
# ---------------------------------------------------------------------------------------------------
def test_wallet_and_shop_ledgers_agree_after_payments_and_refunds(paid_order, refund_order, shopper, staff):
    # given a top-up, three ¥10.00 orders paid three ways
    credit_wallet(shopper, Money("50.00", "CNY"), actor=staff, note="top-up")
    by_wallet = paid_order(1, user=shopper, method="balance")
    by_gateway = paid_order(1, user=shopper)
    by_guest = paid_order(1)

    # when some money goes back, and one request is declined
    refund_order(by_wallet, "7.50")
    refund_order(by_gateway, "2.25", "wallet")
    refund_order(by_guest, "10.00")
    order_services.decline_refund(
        order_services.request_refund(by_gateway, user=shopper, reason="more"), actor=staff, note="no"
    )

    # then
    wallet = Wallet.objects.get(user=shopper)
    entries = WalletEntry.objects.filter(wallet=wallet)
    assert wallet.balance == Money("49.75", "CNY")
    assert entries.aggregate(total=Sum("amount"))["total"] == wallet.balance.amount
    assert entries.order_by("-id").first().balance_after == wallet.balance
    confirmed = Payment.objects.filter(state=Payment.State.CONFIRMED).aggregate(total=Sum("amount"))["total"]
    refunded = Refund.objects.filter(state=Refund.State.SUCCEEDED).aggregate(total=Sum("amount"))["total"]
    kept = sum((order.total.amount - order.refunded.amount for order in Order.objects.all()), Decimal("0"))
    assert confirmed - refunded == kept == Decimal("10.25")


@pytest.fixture
def delivered_on_commit(transactional_db) -> Order:
    """A delivered ¥20.00 order where on-commit callbacks run for real, for races across connections."""
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 2)
    payment = factories.place_order(sku).payment
    factories.confirm(payment)
    return order_of(payment)


@pytest.mark.postgres
def test_two_full_refunds_of_one_order_at_once_refund_it_once(delivered_on_commit):
    # given
    order = delivered_on_commit
    staff = factories.UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)

    def refund_all():
        return order_services.create_refund(order, amount=Decimal("20.00"), destination="original", actor=staff)

    # when two members of staff refund it in full at the same moment
    outcomes = run_together([refund_all, refund_all])

    # then
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Refund", "RefundError"]
    assert Refund.objects.get().state == Refund.State.SUCCEEDED
    order.refresh_from_db()
    assert order.refunded == order.total and order.refund_status == Order.RefundStatus.FULL
    held = Refund.objects.filter(state__in=Refund.HOLDING).aggregate(total=Sum("amount"))["total"]
    assert held <= payments_of(order).get().amount.amount
    assert OrderEvent.objects.filter(order=order, type="refunded").count() == 1


@pytest.mark.postgres
def test_a_double_clicked_refund_form_refunds_once_even_at_the_same_moment(delivered_on_commit):
    order = delivered_on_commit
    staff = factories.UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    refund_no = new_refund_no()

    def refund_half():
        return order_services.create_refund(
            order, amount=Decimal("10.00"), destination="original", actor=staff, refund_no=refund_no
        )

    outcomes = run_together([refund_half, refund_half])

    assert [type(outcome) for outcome in outcomes] == [Refund, Refund]
    assert outcomes[0].pk == outcomes[1].pk
    assert Refund.objects.get().state == Refund.State.SUCCEEDED
    assert Order.objects.get(pk=order.pk).refunded == Money("10.00", "CNY")
