"""A member of a discounted level with a coupon in their account buys in a real Chromium: they see
their level's price, choose the coupon, pay at the sandbox cashier, and find the message and the
points — at PC and at phone width."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import MemberLevel, Message, PointsAccount
from accounts.services import confirm_email
from kamen.testing import factories
from kamen.testing.browser import ARTIFACTS
from orders.models import CouponUse, Order
from orders.services import coupons as coupon_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("device", "width"), [("pc", 1280), ("phone", 390)])
def test_a_member_sees_their_price_applies_a_coupon_pays_and_gets_the_message_and_points(
    live_server, settings, browser, device, width
):
    # given a 黄金会员 (88折) with a 满20减5 coupon in their account, and ¥30 cards in stock
    MemberLevel.objects.create(name="普通会员", rank=0)
    gold = MemberLevel.objects.create(name="黄金会员", rank=20, discount=Decimal("0.88"))
    member = factories.UserFactory(email=f"{device}@example.com", level=gold)
    confirm_email(member)
    coupon = factories.CouponFactory(name="满20减5")
    coupon_services.grant_coupon(coupon, member, reason="staff", reference="browser")
    sku = factories.SkuFactory(price="30.00", name="30元面值", product__title="腾讯Q币 30元")
    secrets = factories.stock(sku, 2, prefix="QB")
    settings.SANDBOX_NOTIFY_URL = live_server.url + reverse("payments:notify", args=["sandbox"])
    page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN")

    # when they sign in and open the product
    page.goto(live_server.url + reverse("account_login"))
    page.fill("input[name=login]", member.email)
    page.fill("input[name=password]", "pass-1234-word")
    page.press("input[name=password]", "Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto(live_server.url + sku.product.get_absolute_url())

    # then they see their level's price beside the struck-through retail price, and their coupon
    assert page.inner_text("[data-unit-price]") == "¥26.40"
    assert page.inner_text("[data-retail-price]") == "¥30.00"
    option = page.locator(".coupon-opt", has_text="满20减5")
    option.wait_for()
    assert "省 ¥5.00" in option.inner_text()

    # when they choose it, the server prices the order
    option.click()
    page.wait_for_function("() => document.querySelector('[data-total]').textContent === '¥21.40'")
    assert "优惠券（满20减5）" in page.inner_text("[data-price-lines]")
    page.screenshot(path=str(ARTIFACTS / f"member-coupon-{device}.png"), full_page=True)

    # and pay at the sandbox cashier
    page.check("input[name=payment_method][value=sandbox]")
    page.click("form[action='/orders/new/'] [type=submit]")
    page.wait_for_url("**/payments/sandbox/pay/**")
    assert "¥21.40" in page.content()
    page.click("form[action$='/confirm/'] [type=submit]")
    page.wait_for_url("**/orders/**")
    page.wait_for_function(
        "codes => codes.some(code => document.body.innerText.includes(code))", arg=secrets, timeout=15000
    )

    # then the message centre tells them, the badge counts it, and the points are theirs
    page.goto(live_server.url + reverse("accounts:messages"))
    text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    order = Order.objects.get()
    assert f"订单 {order.number} 已付款" in text and "获得 21 积分" in text and "送你一张优惠券：满20减5" in text
    assert page.locator(".badge-count").inner_text() == str(Message.objects.filter(user=member).count())
    page.screenshot(path=str(ARTIFACTS / f"member-messages-{device}.png"), full_page=True)
    assert order.total.amount == Decimal("21.40") and order.status == Order.Status.DELIVERED
    assert CouponUse.objects.get(order=order).state == CouponUse.State.USED
    assert PointsAccount.objects.get(user=member).balance == 21
