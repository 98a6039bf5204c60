"""Shop pages through the test client: what shoppers see, in which language, at what query cost."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.services import credit_wallet
from catalog.models import Product
from kamen.money import cny
from kamen.testing import factories
from kamen.testing.pages import guest_checkout
from orders import services
from orders.models import Order
from orders.selectors import payments_of
from orders.tasks import send_delivery_email_task


def page_text(client, url, **extra) -> str:
    response = client.get(url, **extra)
    assert response.status_code == 200, url
    return response.content.decode()


def products_in(category, count: int, *, title: str = "Steam 充值卡") -> None:
    for n in range(count):
        sku = factories.SkuFactory(product__category=category, product__title=f"{title} {n}", price="10.00")
        factories.stock(sku, 1, prefix=f"P{n}")


# ---------------------------------------------------------------------------------------------------
# What is listed
# ---------------------------------------------------------------------------------------------------
def test_home_shows_the_product_with_its_price(client, sku):
    html = page_text(client, reverse("catalog:home"))

    assert sku.product.title in html
    assert "¥10.00" in html
    assert "库存 5" in html


def test_category_and_search_list_the_product(client, sku):
    product = sku.product

    category_html = page_text(client, product.category.get_absolute_url())
    search_html = page_text(client, reverse("catalog:search"), data={"q": product.title[:4]})

    for html in (category_html, search_html):
        assert product.title in html
        assert "¥10.00" in html


def test_product_page_shows_specs_as_radios_and_the_price(client, sku):
    html = page_text(client, sku.product.get_absolute_url())

    assert sku.product.title in html
    assert "¥10.00" in html
    assert f'name="sku" value="{sku.pk}"' in html
    assert 'type="hidden" name="sku"' not in html
    assert reverse("orders:place") in html
    assert 'name="contact_email"' in html and 'name="lookup_password"' in html


def test_a_signed_in_shopper_is_not_asked_for_email_or_lookup_password(client, sku, shopper):
    client.force_login(shopper)

    html = page_text(client, sku.product.get_absolute_url())

    assert 'name="contact_email"' not in html
    assert 'name="lookup_password"' not in html
    assert 'value="balance"' in html


def test_a_sold_out_spec_cannot_be_chosen(client, db):
    sold_out = factories.SkuFactory(price="8.00")

    html = page_text(client, sold_out.product.get_absolute_url())

    assert "售罄" in html
    assert "disabled" in html.split(f'value="{sold_out.pk}"', 1)[1].split(">", 1)[0]


@pytest.mark.parametrize(
    "hidden",
    [{"status": Product.Status.DRAFT}, {"status": Product.Status.PENDING}, {"is_on_shelf": False}],
    ids=["draft", "pending", "off-shelf"],
)
def test_hidden_products_are_not_listed_and_their_page_is_404(client, sku, hidden):
    other = factories.SkuFactory(product__title="Secret draft 商品", product__category=sku.product.category)
    factories.stock(other, 2, prefix="HID")
    Product.objects.filter(pk=other.product.pk).update(**hidden)

    for url in (
        reverse("catalog:home"),
        sku.product.category.get_absolute_url(),
        reverse("catalog:search") + "?q=Secret",
    ):
        assert "Secret draft" not in page_text(client, url)
    response = client.get(other.product.get_absolute_url())
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


# ---------------------------------------------------------------------------------------------------
# Language
# ---------------------------------------------------------------------------------------------------
def test_pages_are_in_chinese_by_default(client, sku):
    html = page_text(client, sku.product.get_absolute_url())

    assert "立即购买" in html
    assert "Buy now" not in html
    assert '<html lang="zh-CN">' in html


def test_product_page_in_english_from_the_browser_language(client, sku):
    html = page_text(client, sku.product.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")

    assert "Buy now" in html
    assert "立即购买" not in html
    assert "¥10.00" in html


def test_the_language_switcher_sets_english(client, sku):
    url = sku.product.get_absolute_url()

    response = client.post("/i18n/setlang/", {"language": "en", "next": url})

    assert response.status_code == 302 and response["Location"] == url
    html = page_text(client, url)
    assert "Buy now" in html and "Order lookup" in html
    assert 'action="/i18n/setlang/"' in html


# ---------------------------------------------------------------------------------------------------
# Cost and pagination
# ---------------------------------------------------------------------------------------------------
def test_listing_queries_do_not_grow_with_the_number_of_products(client, db, django_assert_max_num_queries):
    category = factories.CategoryFactory(slug="game")
    url = category.get_absolute_url()
    products_in(category, 5)

    cache.clear()  # measure the rendering itself, not the fragment cache
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    products_in(category, 20)
    cache.clear()
    with django_assert_max_num_queries(len(few)):
        html = page_text(client, url)

    assert html.count('class="pcard"') == 20
    assert len(few) <= 10  # 10: the shop settings, read once per change of them and kept in the cache


def test_a_cached_listing_never_shows_old_stock(client, sku):
    url = sku.product.category.get_absolute_url()
    assert "5" in page_text(client, url)
    with CaptureQueriesContext(connection) as cached:
        page_text(client, url)

    services.place_order(
        sku, quantity=2, user=None, contact_email="a@example.com", lookup_password="abcd", payment_method="sandbox"
    )

    html = page_text(client, url)
    assert len(cached) <= 2  # served from the fragment cache
    assert re.search(r"库存\s*3", html) and not re.search(r"库存\s*5", html)


def test_search_pagination_keeps_the_query(client, db):
    category = factories.CategoryFactory()
    products_in(category, 25, title="Steam 点卡")

    first = page_text(client, reverse("catalog:search"), data={"q": "点卡"})
    second = page_text(client, reverse("catalog:search"), data={"q": "点卡", "page": 2})

    assert "?q=%E7%82%B9%E5%8D%A1&amp;page=2" in first
    assert "?q=%E7%82%B9%E5%8D%A1&amp;page=1" in second
    assert first.count('class="pcard"') == 20 and second.count('class="pcard"') == 5
    assert 'value="点卡"' in first  # the search box keeps the words too


# ---------------------------------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------------------------------
def guest_order(client, sku, quantity=1):
    response = guest_checkout(client, sku, quantity=quantity)
    assert response.status_code == 302
    return Order.objects.get()


def test_a_pending_order_offers_the_cashier_a_deadline_and_cancel(client, sku):
    order = guest_order(client, sku, quantity=2)
    payment = payments_of(order).get()

    html = page_text(client, order.get_absolute_url())

    assert "待支付" in html and "去支付" in html
    assert reverse("payments:checkout", args=[payment.trade_no]) in html
    assert reverse("orders:cancel", args=[order.number]) in html
    assert reverse("orders:status", args=[order.number]) in html
    assert '<meta http-equiv="refresh" content="5">' in html
    assert "¥20.00" in html
    assert "查询密码" in html  # a guest is reminded to keep number and password


def test_the_sandbox_cashier_says_it_is_a_test_and_posts_to_the_gateway(client, sku):
    order = guest_order(client, sku)
    payment = payments_of(order).get()

    html = page_text(client, reverse("payments:sandbox", args=[payment.trade_no]))

    assert "确认支付" in html and "测试" in html
    assert reverse("payments:sandbox_pay", args=[payment.trade_no]) in html
    assert order.number in html and "¥10.00" in html


def test_a_delivered_order_lists_its_codes_with_copy_buttons(client, sku):
    order = guest_order(client, sku, quantity=2)
    services.mark_paid(order, payment_id=payments_of(order).get().pk)
    services.deliver_order(order.pk)
    secrets = [code.secret for code in order.codes.all()]

    html = page_text(client, order.get_absolute_url())

    assert all(secret in html for secret in secrets)
    assert "复制全部" in html and html.count("data-copy=") >= 2
    assert 'http-equiv="refresh"' not in html and "data-order-poll" not in html


def test_order_pages_escape_what_staff_typed(client, db, shopper, staff, django_capture_on_commit_callbacks):
    manual = factories.SkuFactory(delivery_kind="manual", price="5.00")
    credit_wallet(shopper, cny("5.00"), actor=None)
    client.force_login(shopper)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("orders:place"), {"sku": manual.pk, "quantity": 1, "payment_method": "balance"})
    order = Order.objects.get()
    assert order.status == Order.Status.AWAITING_MANUAL
    services.deliver_manually(order, content="账号 <script>alert(1)</script>", actor=staff)

    html = page_text(client, order.get_absolute_url())

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


def test_lookup_my_orders_and_wallet_pages_render(client, sku, shopper):
    assert "订单查询" in page_text(client, reverse("orders:lookup"))
    client.force_login(shopper)
    client.post(reverse("orders:place"), {"sku": sku.pk, "quantity": 1, "payment_method": "sandbox"})
    order = Order.objects.get()

    mine = page_text(client, reverse("orders:mine"))
    wallet = page_text(client, reverse("payments:wallet"))

    assert order.number in mine and "待支付" in mine
    assert "¥0.00" in wallet
    assert reverse("account_logout") in mine  # sign-out is a POST form in the header


def test_sign_in_and_sign_up_pages_use_the_shop_layout(client, db):
    for name in ("account_login", "account_signup"):
        html = page_text(client, reverse(name))
        assert "kamen" in html and 'class="catnav"' in html
        assert 'name="password' in html


def test_the_delivery_email_links_to_the_order_but_never_holds_codes(client, sku):
    order = guest_order(client, sku)
    services.mark_paid(order, payment_id=payments_of(order).get().pk)
    services.deliver_order(order.pk)
    mail.outbox.clear()

    send_delivery_email_task(order.pk)

    message = mail.outbox[0]
    assert order.number in message.subject and "\n" not in message.subject
    assert order.get_secret_url() in message.body
    assert all(code.secret not in message.body for code in order.codes.all())


def test_the_rate_limited_page_says_to_wait(rf, db):
    from kamen.views import rate_limited

    response = rate_limited(rf.post(reverse("orders:lookup")), Exception())

    assert response.status_code == 429
    assert "操作过于频繁，请稍后再试" in response.content.decode()


# ---------------------------------------------------------------------------------------------------
# What a new shopper trips over
# ---------------------------------------------------------------------------------------------------
def test_search_finds_products_by_category_brand_and_keywords(client, db):
    games = factories.CategoryFactory(name="游戏点卡")
    tencent = factories.CategoryFactory(name="腾讯", parent=games)
    in_category = factories.SkuFactory(product__category=tencent, product__title="和平精英点券").product
    by_brand = factories.SkuFactory(product__title="QQ会员", product__brand="腾讯").product
    by_keyword = factories.SkuFactory(product__title="王者荣耀点券", product__keywords="农药 点券").product
    elsewhere = factories.SkuFactory(product__title="网易一卡通").product

    tencent_hits = page_text(client, reverse("catalog:search"), data={"q": "腾讯"})
    nickname_hits = page_text(client, reverse("catalog:search"), data={"q": "农药"})
    parent_hits = page_text(client, reverse("catalog:search"), data={"q": "游戏点卡"})

    assert in_category.title in tencent_hits and by_brand.title in tencent_hits
    assert elsewhere.title not in tencent_hits
    assert by_keyword.title in nickname_hits and by_brand.title not in nickname_hits
    assert in_category.title in parent_hits


def test_a_product_whose_specs_cost_differently_shows_its_lowest_price_with_qi(client, db):
    varied = factories.SkuFactory(product__title="多规格商品", price="6.00").product
    factories.SkuFactory(product=varied, price="30.00")
    single = factories.SkuFactory(product__title="单规格商品", price="9.00").product

    html = page_text(client, reverse("catalog:search"), data={"q": "规格商品"})

    assert re.search(r"¥6\.00\s*<small[^>]*>起</small>", html)
    assert not re.search(r"¥9\.00\s*<small", html)
    assert single.title in html


def test_the_order_page_of_a_manual_order_keeps_polling_for_the_delivery(client, db, paid_order):
    order = paid_order(factories.SkuFactory(delivery_kind="manual"), 1)
    session = client.session
    session["kamen_orders"] = [order.number]
    session.save()

    html = page_text(client, order.get_absolute_url())
    status = client.get(reverse("orders:status", args=[order.number])).json()

    assert order.status == Order.Status.AWAITING_MANUAL
    assert f'data-order-poll="{reverse("orders:status", args=[order.number])}"' in html
    assert 'data-poll-every="15000"' in html
    assert status == {"status": "awaiting_manual", "waiting": True}


def test_a_delivered_order_shows_how_to_redeem_beside_the_codes_and_keeps_the_refund_form_closed(
    client, db, shopper, paid_order
):
    sku = factories.SkuFactory(product__instructions="登录 pay.qq.com，选择“Q币卡充值”。")
    factories.stock(sku, 1)
    order = paid_order(sku, 1, user=shopper)
    client.force_login(shopper)

    html = page_text(client, order.get_absolute_url())

    assert "使用说明" in html and "登录 pay.qq.com" in html
    assert '<details class="refund-form">' in html  # there, but closed until the buyer asks for it


def test_my_orders_shows_a_refunded_order_as_refunded(
    client, db, shopper, staff, paid_order, sku, django_capture_on_commit_callbacks
):
    order = paid_order(sku, 1, user=shopper)
    with django_capture_on_commit_callbacks(execute=True):
        services.create_refund(order, amount=order.total.amount, destination="original", actor=staff)
    client.force_login(shopper)

    html = page_text(client, reverse("orders:mine"))

    assert "已退款" in html
    assert "已发货" not in html


def test_wallet_lines_say_what_happened_and_never_show_internal_keys(client, shopper, sku, paid_order):
    credit_wallet(shopper, cny("50.00"), actor=None, note="演示账户余额", reference="seed_demo")
    order = paid_order(sku, 1, user=shopper, method="balance")
    client.force_login(shopper)

    html = page_text(client, reverse("payments:wallet"))

    assert "演示账户余额" in html and f"{sku.product.title} {sku.name} × 1" in html
    assert "seed_demo" not in html
    assert payments_of(order).get().trade_no not in html
