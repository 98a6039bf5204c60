"""Coupons at checkout (in Chinese, the shop's language) and in admin: the server's price preview, a
code that is refused says why and places nothing, a coupon used shows on the order, and staff make,
export and grant codes."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from djmoney.money import Money

from kamen.testing import factories
from orders.models import Coupon, CouponCode, CouponGrant, CouponUse, Order
from orders.services import coupons as coupon_services


def preview(client, sku, quantity=1, **params):
    return client.get(reverse("orders:price_preview"), {"sku": sku.pk, "quantity": quantity, **params})


@pytest.fixture
def welcome(db):
    return factories.CouponFactory(name="新人立减", code="WELCOME5")


def test_the_preview_prices_a_code_and_says_why_one_does_not_apply(client, sku, shopper, welcome):
    client.force_login(shopper)

    taken = preview(client, sku, 2, coupon_code="welcome5").json()
    short = preview(client, sku, 1, coupon_code="WELCOME5").json()
    unknown = preview(client, sku, 1, coupon_code="NOPE").json()

    assert taken["total"] == "¥15.00" and taken["coupon"] == "新人立减" and taken["coupon_error"] == ""
    assert taken["lines"] == [["优惠券（新人立减）", "−¥5.00"]]
    assert short["total"] == "¥10.00" and short["coupon_error"] == "商品金额满 ¥20.00 才能使用这张优惠券。"
    assert unknown["coupon_error"] == "优惠码不存在。"
    assert not Order.objects.exists() and Coupon.objects.get().used_count == 0


def test_the_preview_lists_a_members_own_coupons_best_first_with_what_each_saves(client, sku, shopper):
    small = factories.CouponFactory(name="无门槛1元", kind=Coupon.Kind.NO_THRESHOLD, amount_off="1.00", min_spend=0)
    big = factories.CouponFactory(name="满20减5")
    other = factories.CouponFactory(name="别的商品", min_spend=0)
    other.skus.set([factories.SkuFactory()])
    for gift in (small, big, other):
        coupon_services.grant_coupon(gift, shopper, reason=CouponGrant.Reason.STAFF, reference="t")
    client.force_login(shopper)

    listed = preview(client, sku, 2).json()["coupons"]

    assert [(c["name"], c["saving"], c["refusal"]) for c in listed] == [
        ("满20减5", "¥5.00", ""),
        ("无门槛1元", "¥1.00", ""),
        ("别的商品", "", "这张优惠券不适用于本商品。"),
    ]
    chosen = preview(client, sku, 2, coupon_grant=listed[0]["grant"]).json()
    assert chosen["total"] == "¥15.00"
    # Someone else's grant names nothing this visitor has.
    client.force_login(factories.UserFactory())
    assert preview(client, sku, 2, coupon_grant=listed[0]["grant"]).json()["coupon_error"] == (
        "你的账户里没有这张优惠券。"
    )


@pytest.mark.parametrize(
    "params",
    [{"sku": "x", "quantity": 1}, {"quantity": 1}, {"sku": "1", "quantity": "0"}, {"sku": "١", "quantity": 1}],
)
def test_a_preview_of_nothing_sensible_is_a_clear_json_refusal(client, db, params):
    response = client.get(reverse("orders:price_preview"), params)

    assert response.status_code == 400 and "error" in response.json()


def test_a_preview_of_a_spec_not_for_sale_is_not_found(client, db):
    assert preview(client, factories.SkuFactory(is_active=False)).status_code == 404


def test_checkout_with_a_code_charges_the_discounted_total_and_the_order_shows_the_coupon(
    client, sku, shopper, welcome
):
    client.force_login(shopper)

    response = client.post(
        reverse("orders:place"), {"sku": sku.pk, "quantity": 2, "payment_method": "sandbox", "coupon_code": "welcome5"}
    )

    order = Order.objects.get()
    assert response.status_code == 302
    assert order.total == Money("15.00", "CNY") and order.payment_links.get().payment.amount == order.total
    assert CouponUse.objects.get(order=order).state == CouponUse.State.HELD
    page = client.get(order.get_absolute_url()).content.decode()
    assert "新人立减" in page and "−¥5.00" in page


def test_a_refused_code_reshows_the_form_with_the_reason_and_places_nothing(client, sku, shopper, welcome):
    client.force_login(shopper)

    response = client.post(
        reverse("orders:place"), {"sku": sku.pk, "quantity": 1, "payment_method": "sandbox", "coupon_code": "WELCOME5"}
    )

    assert response.status_code == 400
    assert "商品金额满 ¥20.00 才能使用这张优惠券。" in response.content.decode()
    assert not Order.objects.exists() and Coupon.objects.get().used_count == 0


def test_a_free_order_goes_straight_to_its_codes(client, sku, shopper, django_capture_on_commit_callbacks):
    factories.CouponFactory(code="GIFT", kind=Coupon.Kind.PERCENT_OFF, percent_off=100, amount_off=0, min_spend=0)
    client.force_login(shopper)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("orders:place"), {"sku": sku.pk, "quantity": 1, "payment_method": "sandbox", "coupon_code": "GIFT"}
        )

    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
    assert order.status == Order.Status.DELIVERED


# ---------------------------------------------------------------- admin


def test_staff_generate_codes_and_export_them_with_the_order_that_used_each(client, staff, sku, welcome):
    client.force_login(staff)
    batch = factories.CouponFactory(name="批量券", min_spend=0)

    made = client.post(reverse("admin:orders_coupon_generate", args=[batch.pk]), {"count": 5, "prefix": "vip"})
    used = CouponCode.objects.first()
    factories.place_order(sku, quantity=1, user=factories.UserFactory(), coupon=used.code)
    export = client.get(reverse("admin:orders_coupon_export", args=[batch.pk]))

    assert made.status_code == 302 and CouponCode.objects.filter(coupon=batch).count() == 5
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == 6 and all(row[0].startswith("VIP") for row in rows[1:])
    assert [row[2] != "" for row in rows[1:]].count(True) == 1
    assert next(row for row in rows if row[0] == used.code)[2] == Order.objects.get().number


def test_staff_grant_a_coupon_by_email_once_however_often_the_form_is_sent(client, staff, shopper, welcome):
    client.force_login(staff)
    url = reverse("admin:orders_coupon_grant", args=[welcome.pk])
    form = {"emails": f"{shopper.email.upper()}\n\n", "request_key": "0b6a0a3c-6b7e-4d0e-9b1a-111111111111"}

    client.post(url, form)
    client.post(url, form)
    refused = client.post(url, {**form, "emails": "nobody@example.com"})

    assert CouponGrant.objects.filter(user=shopper, coupon=welcome, actor=staff).count() == 1
    assert refused.status_code == 400 and "nobody@example.com" in refused.content.decode()


def test_coupon_tools_need_their_permissions(client, welcome):
    clerk = factories.UserFactory(is_staff=True)
    client.force_login(clerk)

    for name in ("generate", "export", "grant"):
        assert client.get(reverse(f"admin:orders_coupon_{name}", args=[welcome.pk])).status_code == 403


def test_my_coupons_lists_what_is_ready_and_what_was_used(client, sku, shopper):
    ready = factories.CouponFactory(name="满20减5")
    spent = factories.CouponFactory(name="无门槛2元", kind=Coupon.Kind.NO_THRESHOLD, amount_off="2.00", min_spend=0)
    coupon_services.grant_coupon(ready, shopper, reason=CouponGrant.Reason.STAFF, reference="a")
    grant, _ = coupon_services.grant_coupon(spent, shopper, reason=CouponGrant.Reason.STAFF, reference="b")
    factories.place_order(sku, quantity=1, user=shopper, grant=grant)
    client.force_login(shopper)

    page = client.get(reverse("orders:coupons")).content.decode()

    ready_part, _, used_part = page.partition("已使用或失效")
    assert "满20减5" in ready_part and "满 ¥20.00 减 ¥5.00" in ready_part
    assert "无门槛2元" in used_part and "无门槛减 ¥2.00" in used_part and "已使用" in used_part
    assert client.get(reverse("orders:coupons")).status_code == 200
    assert Client().get(reverse("orders:coupons")).status_code == 302  # members only
