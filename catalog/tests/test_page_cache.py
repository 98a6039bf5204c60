"""Cached catalog pages: stock always exact, never someone else's page, never the other language's.

Visitors who are not signed in get home, list and product pages from the cache; each test first shows
that the page really came from the cache (it costs at most the stock query), then changes something
and reads the page again.
"""

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from catalog import services
from catalog.cache import generation
from catalog.models import CardCode
from kamen import page_cache
from kamen.testing import factories
from kamen.testing.pages import guest_checkout, sku_admin_form
from orders import services as order_services


def cached_read(client, url: str) -> str:
    """The page at `url`, read twice: the second read must come from the cache (no more than the
    live stock query)."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert len(queries) <= 1, [query["sql"] for query in queries]
    return response.content.decode()


LIST_PAGES = ("home", "category", "search")


def list_url(kind: str, sku) -> str:
    if kind == "home":
        return reverse("catalog:home")
    if kind == "category":
        return sku.product.category.get_absolute_url()
    return reverse("catalog:search") + "?q=" + sku.product.title[:4]


@pytest.mark.parametrize("kind", LIST_PAGES)
def test_a_cached_list_page_shows_the_stock_of_the_moment(client, sku, kind):
    sku.product.is_hot = True
    sku.product.save()
    url = list_url(kind, sku)
    assert re.search(r"库存\s*5", cached_read(client, url))

    placed = factories.place_order(sku, quantity=2)  # a checkout holds two codes
    assert re.search(r"库存\s*3", cached_read(client, url))

    order_services.cancel_order(placed.order, actor=None)  # and gives them back
    assert re.search(r"库存\s*5", cached_read(client, url))

    factories.stock(sku, 2, prefix="MORE")  # staff import two more
    assert re.search(r"库存\s*7", cached_read(client, url))

    services.void_codes(CardCode.objects.filter(sku=sku).values_list("pk", flat=True), actor=None)
    html = cached_read(client, url)
    assert "售罄" in html and not re.search(r"库存\s*\d", html)


def test_a_cached_product_page_shows_the_stock_of_the_moment(client, sku):
    url = sku.product.get_absolute_url()
    assert re.search(r"库存\s*5", cached_read(client, url))

    placed = factories.place_order(sku, quantity=2)
    assert re.search(r"库存\s*3", cached_read(client, url))

    order_services.cancel_order(placed.order, actor=None)
    assert re.search(r"库存\s*5", cached_read(client, url))

    factories.stock(sku, 2, prefix="MORE")
    assert re.search(r"库存\s*7", cached_read(client, url))


def test_a_sale_fills_new_counts_into_the_cached_product_page_until_a_spec_sells_out(client, sku):
    other_spec = factories.SkuFactory(product=sku.product, price="30.00")
    factories.stock(other_spec, 2, prefix="OTHER")
    url = sku.product.get_absolute_url()
    cached_read(client, url)

    factories.place_order(sku, quantity=2)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert len(queries) == 1, [query["sql"] for query in queries]  # the specs' stock; the page is not rendered
    assert re.search(r"data-stock-text>\s*3 件", html) and re.search(r"库存\s*3", html) and re.search(r"库存\s*2", html)
    # What the page's script reads to switch specs: the counts and what one order may take.
    assert f'value="{sku.pk}"' in html and 'data-stock="3"' in html and 'data-max="3"' in html
    assert "<!--spec:" not in html

    factories.place_order(sku, quantity=3)  # the first spec sells out: the page changes, not only a count
    html = cached_read(client, url)
    first, second = (
        re.search(rf'<input type="radio" name="sku" value="{spec.pk}"[^>]*>', html)[0] for spec in (sku, other_spec)
    )
    assert 'data-stock="0"' in first and "disabled" in first and "checked" not in first
    assert 'data-stock="2"' in second and "checked" in second and re.search(r"data-stock-text>\s*2 件", html)


def test_a_sale_of_one_product_leaves_the_others_pages_cached(client, sku):
    other = factories.SkuFactory(price="20.00")
    factories.stock(other, 4)
    cached_read(client, other.product.get_absolute_url())

    factories.place_order(sku, quantity=1)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(other.product.get_absolute_url()).status_code == 200
    assert len(queries) == 0


def test_a_staff_edit_in_the_admin_shows_at_once(client, sku, staff):
    product_url, list_page = sku.product.get_absolute_url(), sku.product.category.get_absolute_url()
    assert "¥10.00" in cached_read(client, product_url) and "¥10.00" in cached_read(client, list_page)

    admin = Client()
    admin.force_login(staff)
    change = reverse("admin:catalog_sku_change", args=[sku.pk])
    assert admin.post(change, sku_admin_form(sku, price="8.50")).status_code == 302

    assert "¥8.50" in cached_read(client, product_url) and "¥8.50" in cached_read(client, list_page)
    services.set_shelf(sku.product, on_shelf=False, actor=staff)
    assert client.get(product_url).status_code == 404
    assert sku.product.title not in cached_read(client, list_page)


def test_a_signed_in_shopper_never_gets_a_page_cached_for_a_visitor_or_the_other_way(client, sku, shopper):
    url = sku.product.get_absolute_url()
    assert "shopper@example.com" not in cached_read(client, url)

    signed_in = Client()
    signed_in.force_login(shopper)
    mine = signed_in.get(url).content.decode()
    assert "shopper@example.com" in mine and "lookup_password" not in mine

    visitor = cached_read(Client(), url)
    assert "shopper@example.com" not in visitor and "lookup_password" in visitor


def test_a_language_switch_never_serves_the_other_languages_page(client, sku):
    url = sku.product.category.get_absolute_url()
    assert "库存" in cached_read(client, url)

    client.cookies["django_language"] = "en"
    english = cached_read(client, url)
    assert "Stock 5" in english and "库存" not in english

    client.cookies["django_language"] = "zh-hans"
    assert "库存" in cached_read(client, url)


def test_every_visitor_gets_a_csrf_token_of_their_own_that_checks_out(sku):
    url = sku.product.get_absolute_url()
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    cached_read(first, url)
    html = cached_read(second, url)

    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', html))
    assert len(tokens) == 1 and page_cache.CSRF_PLACEHOLDER not in html
    assert second.cookies["csrftoken"].value != first.cookies["csrftoken"].value

    response = guest_checkout(second, sku, csrfmiddlewaretoken=tokens.pop())
    assert response.status_code == 302  # on to the cashier: the token checked out


def test_a_visitor_with_a_message_waiting_is_shown_it_and_nobody_else_is(client, sku):
    url = reverse("catalog:home")
    placed = factories.place_order(sku, quantity=1)
    # Cancelling through the order page leaves a message for the next page the visitor opens.
    client.get(f"/orders/{placed.order.number}/{placed.order.access_token}/")
    assert client.post(reverse("orders:cancel", args=[placed.order.number])).status_code == 302

    assert 'class="messages"' in client.get(url).content.decode()
    assert 'class="messages"' not in cached_read(Client(), url)


def test_an_address_with_other_query_names_is_rendered_not_cached(client, sku, rf):
    url = sku.product.category.get_absolute_url()

    def stored(address: str) -> bool:
        with translation.override("zh-hans"):
            return cache.get(page_cache.page_key(rf.get(address), ("c", generation()))) is not None

    assert client.get(url + "?utm_source=ad").status_code == 200
    assert not stored(url + "?utm_source=ad")
    assert client.get(url + "?page=1").status_code == 200
    assert stored(url + "?page=1")


def test_late_buyers_of_a_sold_out_spec_get_one_answer_from_the_cache(sku, shopper):
    factories.place_order(sku, quantity=5)  # sold out
    first = guest_checkout(Client(), sku, quantity=1)
    assert first.status_code == 409 and "抱歉，该商品库存不足" in first.content.decode()

    late = Client()
    with CaptureQueriesContext(connection) as queries:
        answer = guest_checkout(late, sku, quantity=1)
    assert answer.status_code == 409 and "抱歉，该商品库存不足" in answer.content.decode()
    assert "guest@example.com" not in answer.content.decode()  # nobody's typing comes back to others
    reading = [query["sql"] for query in queries if "SAVEPOINT" not in query["sql"]]
    # The spec and its input fields (the form's and the checkout's); the stock comes from the cache,
    # and the product page is not rendered again.
    assert len(reading) <= 3, reading

    signed_in = Client()
    signed_in.force_login(shopper)
    mine = signed_in.post(reverse("orders:place"), {"sku": sku.pk, "quantity": 1, "payment_method": "sandbox"})
    assert mine.status_code == 409 and "shopper@example.com" in mine.content.decode()
