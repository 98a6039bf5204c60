"""A guest pays with 支付宝 or 微信支付 in a real Chromium: checkout → our QR payment page → codes.

The gateways are the fakes of kamen/testing (the live server runs in a thread of this process, so
they answer its calls too). Screenshots go to test-artifacts/ for a human to look at.
"""

import re

import pytest
import requests

from kamen.testing import factories, fake_alipay, fake_wechat
from kamen.testing.browser import ARTIFACTS, IPHONE_UA, record_csp_violations

ALIPAY_QR = "https://qr.alipay.com/bax08432gw1eqkzfmlvs0052"
WECHAT_QR = "weixin://wxpay/bizpayurl?pr=aIQrOYOzz"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("alipay_enabled", "wechat_enabled"),
]


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.csp_violations = record_csp_violations(page)  # the QR code is a data: URI the policy must allow
    return page


@pytest.fixture
def stocked_sku(db):
    sku = factories.SkuFactory(price="30.00", name="30元面值", product__title="腾讯Q币 30元")
    return sku, factories.stock(sku, 3, prefix="QB")


def buy_as_guest(page, live_server, sku, method: str) -> str:
    """Check out one code as a guest paying with `method`; returns the trade number of the payment page."""
    page.goto(live_server.url + sku.product.get_absolute_url())
    page.check(f"input[name=sku][value='{sku.pk}']")
    page.fill("input[name=quantity]", "1")
    page.fill("input[name=contact_email]", "buyer@example.com")
    page.fill("input[name=lookup_password]", "my-lookup-1")
    page.check(f"input[name=payment_method][value={method}]")
    page.click("form[action='/orders/new/'] [type=submit]")
    page.wait_for_url(re.compile(r"/payments/pay/[^/]+/$"))
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def assert_shows_the_qr_code(page, *, brand: str) -> None:
    qr = page.locator("img[data-pay-qr]")
    assert qr.is_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0
    text = page.inner_text("body")
    assert "¥30.00" in text
    assert brand in text


def test_a_guest_pays_with_alipay_and_the_page_moves_on_by_itself(
    live_server, browser, page, stocked_sku, alipay_gateway, alipay_notification
):
    # given Alipay answers 当面付 precreate with a QR code
    sku, secrets = stocked_sku
    alipay_gateway(
        lambda biz: {"code": "10000", "msg": "Success", "out_trade_no": biz["out_trade_no"], "qr_code": ALIPAY_QR}
    )

    # when the guest checks out choosing 支付宝
    trade_no = buy_as_guest(page, live_server, sku, "alipay")

    # then our payment page shows Alipay's QR code and the amount
    assert_shows_the_qr_code(page, brand="支付宝")
    page.screenshot(path=str(ARTIFACTS / "checkout-alipay.png"), full_page=True)
    assert [call["method"] for call in alipay_gateway.calls] == ["alipay.trade.precreate"]

    # and on an iPhone the same page offers the Alipay app and the code
    phone = browser.new_context(
        viewport={"width": 375, "height": 812}, user_agent=IPHONE_UA, locale="zh-CN", device_scale_factor=2
    )
    phone.add_cookies(page.context.cookies())
    phone_page = phone.new_page()
    phone_violations = record_csp_violations(phone_page)
    phone_page.goto(page.url)
    assert_shows_the_qr_code(phone_page, brand="支付宝")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375
    phone_page.screenshot(path=str(ARTIFACTS / "checkout-alipay-phone.png"), full_page=True)
    phone.close()

    # when Alipay calls our notify URL, as it would over the internet
    from payments.models import Payment

    payment = Payment.objects.get(trade_no=trade_no)
    response = requests.post(live_server.url + fake_alipay.NOTIFY_URL, data=alipay_notification(payment), timeout=10)
    assert (response.status_code, response.text) == (200, "success")

    # then the payment page, polling, moves on to the order page showing the code
    page.wait_for_url(re.compile(r"/orders/"), timeout=15000)
    page.wait_for_function(
        "codes => codes.some(code => document.body.innerText.includes(code))", arg=secrets, timeout=15000
    )
    assert sum(code in page.inner_text("body") for code in secrets) == 1
    assert page.csp_violations == [] and phone_violations == []


def test_a_guest_sees_the_wechat_pay_qr_code(live_server, page, stocked_sku, wechat_gateway):
    # given WeChat Pay answers Native pay with a code_url
    sku, _ = stocked_sku
    wechat_gateway.answer(200, {"code_url": WECHAT_QR})

    # when the guest checks out choosing 微信支付
    buy_as_guest(page, live_server, sku, "wechat")

    # then
    assert_shows_the_qr_code(page, brand="微信支付")
    page.screenshot(path=str(ARTIFACTS / "checkout-wechat.png"), full_page=True)
    (call,) = wechat_gateway.calls
    assert call.path == "/v3/pay/transactions/native"
    assert call.json["amount"] == {"total": 3000, "currency": "CNY"}
    assert call.json["notify_url"].endswith(fake_wechat.NOTIFY_URL)
    assert page.csp_violations == []
