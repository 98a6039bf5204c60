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
