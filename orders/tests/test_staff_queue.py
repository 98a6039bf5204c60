"""The staff queue in admin: manual delivery, retry after restocking, and an order history that shows no codes."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.pages import messages_of
from orders import services
from orders.models import Order, OrderEvent

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def manual_order(db, sku_factory, paid_order) -> Order:
    order = paid_order(sku_factory(delivery_kind="manual"), 1)
    assert order.status == Order.Status.AWAITING_MANUAL
    return order


@pytest.fixture
def failed_order(sku, paid_order) -> Order:
    """Paid after it was cancelled, with the stock gone meanwhile: delivery failed, waiting for staff."""

    def lose_the_stock(order):
        services.cancel_order(order, actor=None)
        catalog_services.void_codes(CardCode.objects.filter(sku=sku).values_list("pk", flat=True), actor=None)

    order = paid_order(sku, 2, before_payment=lose_the_stock)
    assert order.status == Order.Status.DELIVERY_FAILED
    return order


def test_the_queue_lists_only_orders_that_need_a_person(
    client, staff, sku_factory, manual_order, failed_order, paid_order
):
    in_stock = sku_factory()
    catalog_services.import_codes(in_stock, "IN-STOCK-1")
    delivered = paid_order(in_stock, 1)
    client.force_login(staff)

    response = client.get(reverse("admin:orders_staffqueueorder_changelist"))

    listed = {order.pk for order in response.context["cl"].result_list}
    assert listed == {manual_order.pk, failed_order.pk}
    assert delivered.status == Order.Status.DELIVERED
    assert failed_order.abnormal_reason in response.content.decode()


def test_manual_delivery_delivers_the_order_and_records_the_actor(client, staff, manual_order):
    client.force_login(staff)
    page = client.get(reverse("admin:orders_staffqueueorder_change", args=[manual_order.pk]))

    response = client.post(
        reverse("admin:orders_staffqueueorder_deliver", args=[manual_order.pk]),
        {"content": "  UID 10086 已充值 6480  "},
    )

    assert page.status_code == 200 and b'name="content"' in page.content and b'name="_save"' not in page.content
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:orders_staffqueueorder_changelist")
    manual_order.refresh_from_db()
    assert manual_order.status == Order.Status.DELIVERED
    assert manual_order.manual_delivery == "UID 10086 已充值 6480"
    event = manual_order.events.get(type="delivered_manually")
    assert (event.actor, event.from_status, event.to_status) == (staff, "awaiting_manual", "delivered")


def test_manual_delivery_without_content_changes_nothing(client, staff, manual_order):
    client.force_login(staff)

    response = client.post(reverse("admin:orders_staffqueueorder_deliver", args=[manual_order.pk]), {"content": "  "})

    assert response.status_code == 302
    assert messages_of(response) == ["Enter what was delivered."]
    manual_order.refresh_from_db()
    assert manual_order.status == Order.Status.AWAITING_MANUAL and not manual_order.manual_delivery_encrypted


def test_manual_delivery_needs_the_change_permission_on_the_queue(client, manual_order):
    clerk = factories.UserFactory(email="clerk@example.com", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_staffqueueorder"))
    client.force_login(clerk)

    page = client.get(reverse("admin:orders_staffqueueorder_change", args=[manual_order.pk]))
    response = client.post(reverse("admin:orders_staffqueueorder_deliver", args=[manual_order.pk]), {"content": "x"})

    assert page.status_code == 200 and b'name="content"' not in page.content
    assert response.status_code == 403
    manual_order.refresh_from_db()
    assert manual_order.status == Order.Status.AWAITING_MANUAL


def test_deliver_only_answers_post(client, staff, manual_order):
    client.force_login(staff)

    assert client.get(reverse("admin:orders_staffqueueorder_deliver", args=[manual_order.pk])).status_code == 405


def test_retry_without_stock_explains_and_changes_nothing(client, staff, failed_order):
    client.force_login(staff)

    response = client.post(
        reverse("admin:orders_staffqueueorder_changelist"),
        {"action": "retry_stock_delivery", "_selected_action": [failed_order.pk]},
    )

    assert messages_of(response) == [f"{failed_order.number}: Still not enough codes in stock."]
    failed_order.refresh_from_db()
    assert failed_order.status == Order.Status.DELIVERY_FAILED


def test_retry_after_importing_codes_delivers_from_stock(
    client, staff, sku, failed_order, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):  # the import job's task, queued on commit
        client.post(reverse("admin:catalog_sku_import", args=[sku.pk]), {"text": "RESTOCK-1\nRESTOCK-2\nRESTOCK-3"})

    response = client.post(
        reverse("admin:orders_staffqueueorder_changelist"),
        {"action": "retry_stock_delivery", "_selected_action": [failed_order.pk]},
    )

    assert response.status_code == 302
    failed_order.refresh_from_db()
    assert failed_order.status == Order.Status.DELIVERED and failed_order.abnormal_reason == ""
    assert CardCode.objects.filter(order=failed_order, status=CardCode.Status.SOLD).count() == 2
    assert OrderEvent.objects.get(order=failed_order, type="delivery_retried").actor == staff


def test_retry_of_a_manual_order_is_refused_with_a_message(client, staff, manual_order):
    client.force_login(staff)

    response = client.post(reverse("admin:orders_staffqueueorder_retry", args=[manual_order.pk]))

    assert response.status_code == 302
    assert "Only a failed stock-delivery order can be retried." in messages_of(response)[0]
    manual_order.refresh_from_db()
    assert manual_order.status == Order.Status.AWAITING_MANUAL


def test_the_order_admin_never_shows_codes_or_delivered_content(client, staff, sku, manual_order, paid_order):
    delivered = paid_order(sku, 2)
    services.deliver_manually(manual_order, content="MANUAL-SECRET-CONTENT", actor=staff)
    secrets = [code.secret for code in CardCode.objects.filter(order=delivered)]
    client.force_login(staff)

    pages = [
        client.get(reverse("admin:orders_order_changelist")).content.decode(),
        client.get(reverse("admin:orders_order_change", args=[delivered.pk])).content.decode(),
        client.get(reverse("admin:orders_order_change", args=[manual_order.pk])).content.decode(),
    ]

    assert len(secrets) == 2
    for html in pages:
        assert not [secret for secret in secrets if secret in html]
        assert "MANUAL-SECRET-CONTENT" not in html
        assert delivered.access_token not in html and manual_order.access_token not in html


def test_orders_cannot_be_added_changed_or_deleted_in_admin(client, staff, manual_order):
    client.force_login(staff)

    assert client.get(reverse("admin:orders_order_add")).status_code == 403
    assert client.get(reverse("admin:orders_order_delete", args=[manual_order.pk])).status_code == 403
    assert (
        client.post(reverse("admin:orders_order_change", args=[manual_order.pk]), {"status": "delivered"}).status_code
        == 403
    )
    manual_order.refresh_from_db()
    assert manual_order.status == Order.Status.AWAITING_MANUAL


def test_orders_are_found_by_number_and_email(client, staff, manual_order):
    client.force_login(staff)

    by_number = client.get(reverse("admin:orders_order_changelist"), {"q": manual_order.number})
    by_email = client.get(reverse("admin:orders_order_changelist"), {"q": "g@example"})
    nothing = client.get(reverse("admin:orders_order_changelist"), {"q": manual_order.number[:-1]})

    assert list(by_number.context["cl"].result_list) == [manual_order]
    assert list(by_email.context["cl"].result_list) == [manual_order]
    assert list(nothing.context["cl"].result_list) == []
