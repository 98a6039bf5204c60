"""Input the shop once answered with a 500: now a clear 4xx in the shop's language, and nothing written.

On PostgreSQL a NUL in a string parameter is a database error (SQLite accepts it), so these matter
most there; the refusal itself is the same on both.
"""

import warnings
from urllib.parse import quote

import pytest
from django.core.cache.backends.base import CacheKeyWarning
from django.urls import reverse

from kamen.testing import factories
from orders.models import Order
from payments.models import Payment


def html_of(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------------------------------------------
# NUL bytes and broken UTF-8
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "/search/?q=%00",
        "/search/?q=steam%00",
        "/orders/%00/",
        "/orders/%00/status/",
        "/payments/pay/%00/",
        "/payments/pay/%00/status/",
        "/orders/lookup/?next=%00",
    ],
)
def test_a_nul_byte_in_the_address_is_refused_with_a_clear_400(client, db, url):
    response = client.get(url)

    assert response.status_code == 400
    html = html_of(response)
    assert "无法读取这个网址" in html and "NUL" in html
    assert "没有做任何更改" in html


def test_the_400_page_speaks_english_to_an_english_shopper(client, db):
    response = client.get("/search/?q=%00", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert "The web address cannot be read. It contains a NUL character." in html_of(response)


@pytest.mark.parametrize("url", ["/search/?q=%FF", "/search/?q=ab%C3%28", "/orders/lookup/?%FF"])
def test_bytes_that_are_not_utf8_in_the_query_are_refused_with_a_clear_400(client, db, url):
    response = client.get(url)

    assert response.status_code == 400
    assert "不是 UTF-8" in html_of(response)


def test_bytes_that_are_not_utf8_in_the_path_name_nothing(client, db):
    # Django keeps them as the text "%FF", which names no order.
    assert client.get("/orders/%FF/").status_code == 404


def test_a_nul_byte_in_the_session_cookie_is_refused(client, db):
    response = client.get("/", HTTP_COOKIE="sessionid=abcdefgh\x00ijklmnop")

    assert response.status_code == 400
    assert "Cookie" in html_of(response)


def test_a_nul_byte_in_a_form_field_is_refused_and_places_nothing(client, sku):
    response = client.post(
        reverse("orders:place"),
        {
            "sku": str(sku.pk),
            "quantity": "1",
            "contact_email": "a\x00@example.com",
            "lookup_password": "pw-1234",
            "payment_method": "sandbox",
        },
    )

    assert response.status_code == 400
    assert "无法读取提交的表单" in html_of(response)
    assert not Order.objects.exists()


def test_a_nul_byte_in_the_guest_lookup_is_refused(client, db):
    response = client.post(
        reverse("orders:lookup"), {"number": "\x00", "contact_email": "a@example.com", "lookup_password": "x"}
    )

    assert response.status_code == 400


# ---------------------------------------------------------------------------------------------------
# Ids, numbers and lengths
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sku_id", ["²", "①", "١٢", "9" * 40])
def test_a_spec_id_that_is_not_ascii_digits_is_a_404_and_places_nothing(client, sku, sku_id):
    response = client.post(
        reverse("orders:place"),
        {
            "sku": sku_id,
            "quantity": "1",
            "contact_email": "a@example.com",
            "lookup_password": "pw-1234",
            "payment_method": "sandbox",
        },
    )

    assert response.status_code == 404
    assert not Order.objects.exists()


def test_a_contact_email_longer_than_its_column_is_refused_and_places_nothing(client, sku):
    too_long = "a" * 250 + "@example.com"  # a valid address of 262 characters; the column holds 254

    response = client.post(
        reverse("orders:place"),
        {
            "sku": str(sku.pk),
            "quantity": "1",
            "contact_email": too_long,
            "lookup_password": "pw-1234",
            "payment_method": "sandbox",
        },
    )

    assert response.status_code == 400
    assert "254" in html_of(response)
    assert not Order.objects.exists()
    assert not Payment.objects.exists()


@pytest.mark.parametrize("token", ["①②", "²", "令牌"])
def test_a_secret_link_with_non_ascii_characters_is_a_404(client, sku, token):
    order = factories.place_order(sku).order

    response = client.get(f"/orders/{order.number}/{quote(token)}/")

    assert response.status_code == 404


# ---------------------------------------------------------------------------------------------------
# Admin
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "/admin/orders/order/?created_at__year=" + "9" * 40,
        "/admin/payments/payment/?created_at__year=" + "9" * 40,
        "/admin/catalog/cardcode/?sku=%C2%B2",
        "/admin/catalog/product/?category=1e999999",
        "/admin/catalog/sku/?category=%E2%91%A0",
    ],
)
def test_bad_values_in_admin_list_filters_show_the_list_again(client, staff, sku, url):
    client.force_login(staff)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize("product", ["²", "1e999999", "x" * 3000])
def test_a_bad_product_id_in_the_spec_form_shows_the_form_with_its_error(client, staff, sku, product):
    client.force_login(staff)
    count = sku.product.skus.count()

    response = client.post(
        reverse("admin:catalog_sku_add"),
        {"product": product, "name": "月卡", "price_0": "10.00", "delivery_kind": "codes", "sort_order": "0"},
    )

    assert response.status_code == 200
    assert "errornote" in html_of(response)
    assert sku.product.skus.count() == count


# ---------------------------------------------------------------------------------------------------
# Wrong method
# ---------------------------------------------------------------------------------------------------
def test_opening_a_form_only_address_shows_a_page_that_says_so(client, db):
    response = client.get(reverse("orders:place"))

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "此网址只接受表单提交" in html_of(response)


@pytest.mark.parametrize("page", ["%12", "%C2%B2", "x" * 50])
def test_a_page_number_that_is_not_digits_lists_the_first_page_under_a_clean_cache_key(client, sku, page):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)  # keys with control characters break memcached

        response = client.get(f"/search/?q=&page={page}")

    assert response.status_code == 200
    assert sku.product.title in html_of(response)


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULL_WIDTH], ids=["arabic-indic", "full-width"])
def test_an_admin_id_in_other_digits_opens_nothing_and_reveals_nothing(client, staff, sku, digits):
    from catalog.models import CardCode, CardCodeReveal

    # Python's int() reads these digits as the id of a real code
    code = CardCode.objects.filter(sku=sku).order_by("pk").first()
    object_id = quote(str(code.pk).translate(digits))
    client.force_login(staff)

    change = client.get(f"/admin/catalog/cardcode/{object_id}/change/")
    reveal = client.post(f"/admin/catalog/cardcode/{object_id}/reveal/")

    assert change.status_code in (302, 404) and reveal.status_code == 404
    assert not CardCodeReveal.objects.exists()
    assert client.get(f"/admin/catalog/cardcode/{code.pk}/change/").status_code == 200
