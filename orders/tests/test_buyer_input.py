"""下单附加信息: what a direct top-up needs from the buyer is asked at checkout, checked, kept and shown."""

import pytest
from django.urls import reverse

from catalog.buyer_fields import field_name
from catalog.models import BuyerField, Sku
from kamen.testing import factories
from orders import services
from orders.models import Order

K = BuyerField.Kind


@pytest.fixture
def genshin(db):
    """A manual-delivery UID top-up asking for a 9-digit UID and the server."""
    sku = factories.SkuFactory(product__title="原神 UID 代充", delivery_kind=Sku.DeliveryKind.MANUAL, price="648.00")
    product = sku.product
    uid = product.buyer_fields.create(label="UID", kind=K.NUMBER, pattern=r"[1-9][0-9]{8}", help_text="9 位数字")
    server = product.buyer_fields.create(label="服务器", kind=K.CHOICE, choices="天空岛\n世界树\n美服", sort_order=1)
    return sku, uid, server


def checkout(client, sku, **answers):
    data = {"sku": sku.pk, "quantity": 1, "contact_email": "g@example.com", "lookup_password": "pw-1234"}
    data["payment_method"] = "sandbox"
    return client.post(reverse("orders:place"), {**data, **answers})


def test_the_answers_are_checked_and_stored_on_the_order(genshin):
    sku, uid, server = genshin

    placed = services.place_order(
        sku,
        quantity=1,
        user=None,
        contact_email="g@example.com",
        lookup_password="pw-1234",
        payment_method="sandbox",
        buyer_input={field_name(uid): " 123456789 ", field_name(server): "世界树"},
    )

    assert placed.order.buyer_input == [
        {"label": "UID", "kind": "number", "value": "123456789"},
        {"label": "服务器", "kind": "choice", "value": "世界树"},
    ]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({}, "请填写UID"),
        ({"uid": "12345678", "server": "世界树"}, "格式不正确"),
        ({"uid": "１２３４５６７８９", "server": "世界树"}, "只能填写数字"),
        ({"uid": "123456789", "server": "火星"}, "请从选项中选择"),
        ({"uid": "1" * 500, "server": "世界树"}, ""),
    ],
)
def test_a_bad_answer_is_refused_with_a_message_and_places_nothing(client, genshin, answers, message):
    sku, uid, server = genshin
    named = {field_name(uid): answers.get("uid", ""), field_name(server): answers.get("server", "")}

    response = checkout(client, sku, **named)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'class="field-error"' in response.content.decode()
    assert not Order.objects.exists()


def test_the_service_refuses_bad_answers_too(genshin):
    sku, uid, server = genshin

    with pytest.raises(services.CheckoutError):
        services.place_order(
            sku,
            quantity=1,
            user=None,
            contact_email="g@example.com",
            lookup_password="pw-1234",
            payment_method="sandbox",
            buyer_input={field_name(uid): "12", field_name(server): "世界树"},
        )

    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [(K.PHONE, "13812345678", "23812345678"), (K.QQ, "10001", "01234"), (K.NUMBER, "42", "4.2")],
)
def test_each_kind_has_its_own_shape(db, kind, good, bad):
    from django.core.exceptions import ValidationError

    from catalog.buyer_fields import clean_answer

    field = BuyerField(label="号码", kind=kind)
    assert clean_answer(field, good) == good
    with pytest.raises(ValidationError):
        clean_answer(field, bad)


def test_the_product_page_asks_and_the_order_page_and_the_staff_queue_show_the_answers(
    client, genshin, staff, pay, django_capture_on_commit_callbacks
):
    sku, uid, server = genshin
    page = client.get(sku.product.get_absolute_url()).content.decode()
    assert f'name="{field_name(uid)}"' in page and "9 位数字" in page and "世界树</option>" in page

    response = checkout(client, sku, **{field_name(uid): "123456789", field_name(server): "天空岛"})
    order = Order.objects.get()
    assert response.status_code == 302
    pay(order.payment_links.get().payment)

    order_page = client.get(order.get_absolute_url()).content.decode()
    client.force_login(staff)
    queue = client.get(reverse("admin:orders_staffqueueorder_changelist")).content.decode()
    detail = client.get(reverse("admin:orders_staffqueueorder_change", args=[order.pk])).content.decode()
    for html in (order_page, queue, detail):
        assert "123456789" in html and "天空岛" in html
