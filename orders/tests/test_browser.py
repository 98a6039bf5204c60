"""A shopper walks the purchase in a real Chromium: product page → checkout → sandbox cashier → codes."""

import pytest
from django.urls import reverse

from kamen.testing import factories
from kamen.testing.browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(browser):
    return browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")


def test_a_guest_buys_a_card_code_in_chromium(live_server, settings, browser_page):
    # given
    sku = factories.SkuFactory(price="30.00", name="30元面值", product__title="腾讯Q币 30元")
    secrets = factories.stock(sku, 3, prefix="QB")
    settings.SANDBOX_NOTIFY_URL = live_server.url + reverse("payments:notify", args=["sandbox"])
    page = browser_page

    # when the shopper opens the product page and checks out as a guest
    page.goto(live_server.url + sku.product.get_absolute_url())
    assert "腾讯Q币 30元" in page.content()
    page.check(f"input[name=sku][value='{sku.pk}']")
    page.fill("input[name=quantity]", "1")
    page.fill("input[name=contact_email]", "buyer@example.com")
    page.fill("input[name=lookup_password]", "my-lookup-1")
    page.check("input[name=payment_method][value=sandbox]")
    page.screenshot(path=str(ARTIFACTS / "product.png"), full_page=True)
    page.click("form[action='/orders/new/'] [type=submit]")

    # and pays at the sandbox cashier
    page.wait_for_url("**/payments/sandbox/pay/**")
    assert "¥30.00" in page.content()
    page.screenshot(path=str(ARTIFACTS / "sandbox-cashier.png"), full_page=True)
    page.click("form[action$='/confirm/'] [type=submit]")

    # then the order page shows the code
    page.wait_for_url("**/orders/**")
    page.wait_for_function(
        "codes => codes.some(code => document.body.innerText.includes(code))", arg=secrets, timeout=15000
    )
    page.screenshot(path=str(ARTIFACTS / "order-delivered.png"), full_page=True)
    shown = [code for code in secrets if code in page.inner_text("body")]
    assert len(shown) == 1


def test_on_a_phone_a_refused_checkout_shows_its_error_where_the_shopper_looks(live_server, browser):
    from kamen.testing.browser import IPHONE_UA

    # given a direct top-up that needs a 9-digit UID
    sku = factories.SkuFactory(price="648.00", product__title="原神 UID 代充", delivery_kind="manual")
    sku.product.buyer_fields.create(label="UID", kind="number", pattern=r"[1-9][0-9]{8}")
    page = browser.new_page(viewport={"width": 375, "height": 740}, user_agent=IPHONE_UA, locale="zh-CN")

    # when the shopper types a UID one digit short and buys
    page.goto(live_server.url + sku.product.get_absolute_url())
    page.fill("input[name^=input_]", "12345678")
    page.fill("input[name=contact_email]", "buyer@example.com")
    page.fill("input[name=lookup_password]", "my-lookup-1")
    page.click("form[action='/orders/new/'] [type=submit]")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)

    # then the reason is in the upper part of the screen, and the cursor is in the field to fix
    error = page.locator(".field-error, .form-alert").first
    box = error.bounding_box()
    page.screenshot(path=str(ARTIFACTS / "checkout-error-phone.png"))
    assert "UID格式不正确" in error.inner_text()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 740 * 2 / 3
    assert page.evaluate("document.activeElement.name").startswith("input_")


def test_on_a_phone_a_sold_out_answer_is_not_left_at_the_bottom_of_the_screen(live_server, browser):
    from catalog.models import CardCode
    from kamen.testing.browser import IPHONE_UA

    sku = factories.SkuFactory(price="30.00", product__title="腾讯Q币")
    factories.stock(sku, 1)
    page = browser.new_page(viewport={"width": 375, "height": 740}, user_agent=IPHONE_UA, locale="zh-CN")
    page.goto(live_server.url + sku.product.get_absolute_url())
    page.fill("input[name=contact_email]", "buyer@example.com")
    page.fill("input[name=lookup_password]", "my-lookup-1")
    CardCode.objects.filter(sku=sku).update(status=CardCode.Status.VOID)  # someone else was faster

    page.click("form[action='/orders/new/'] [type=submit]")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)

    box = page.locator(".form-alert").first.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 740 * 2 / 3


def test_the_total_follows_the_wholesale_price_as_the_quantity_changes(live_server, browser_page):
    from djmoney.money import Money

    from catalog.models import WholesaleTier

    # given a spec at ¥10.00, ¥9.50 each from 5 and ¥9.00 each from 10, and a second spec without tiers
    sku = factories.SkuFactory(price="10.00", name="10元", product__title="批发测试卡")
    other = factories.SkuFactory(price="20.00", name="20元", product=sku.product)
    factories.stock(sku, 12, prefix="WH")
    factories.stock(other, 3, prefix="WO")
    for quantity, price in ((5, "9.50"), (10, "9.00")):
        WholesaleTier.objects.create(sku=sku, min_quantity=quantity, unit_price=Money(price, "CNY"))
    page = browser_page
    page.goto(live_server.url + sku.product.get_absolute_url())
    page.check(f"input[name=sku][value='{sku.pk}']")
    total, unit = page.locator("[data-total]"), page.locator("[data-unit-price]")

    # when the shopper types 5, then 10 pieces, then switches to the other spec
    page.fill("input[name=quantity]", "5")
    assert total.inner_text() == "¥47.50" and unit.inner_text() == "¥9.50"
    page.fill("input[name=quantity]", "10")
    assert total.inner_text() == "¥90.00" and unit.inner_text() == "¥9.00"
    assert page.locator(f"[data-tiers-for='{sku.pk}']").is_visible()
    page.screenshot(path=str(ARTIFACTS / "product-wholesale.png"), full_page=True)
    page.check(f"input[name=sku][value='{other.pk}']")

    # then the other spec's price applies, and its page shows no tiers
    assert unit.inner_text() == "¥20.00" and total.inner_text() == "¥60.00"  # 10 clamped to its 3 in stock
    assert not page.locator(f"[data-tiers-for='{sku.pk}']").is_visible()
