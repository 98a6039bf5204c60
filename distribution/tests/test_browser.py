"""A reseller in a real Chromium: shares the invite link, a friend signs up through it and buys, and
the promotion centre shows the friend in the team and the commission earned."""

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.services import confirm_email
from distribution.models import Commission, Referrer
from kamen.testing import factories
from kamen.testing.browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pass-1234-word"


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(base + reverse("account_login"))
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    page.wait_for_load_state("load")


def test_a_reseller_invites_a_friend_who_buys_and_the_dashboard_shows_it(live_server, settings, browser):
    # given a reseller and a product at ¥50.00
    settings.SANDBOX_NOTIFY_URL = live_server.url + reverse("payments:notify", args=["sandbox"])
    settings.SITE_URL = live_server.url
    reseller = factories.UserFactory(email="reseller@example.com")
    confirm_email(reseller)
    sku = factories.SkuFactory(price="50.00", name="月卡", product__title="腾讯视频VIP会员")
    factories.stock(sku, 3, prefix="VIP")
    mine = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")

    # when the reseller opens the promotion centre and takes the invite link
    sign_in(mine, live_server.url, "reseller@example.com", PASSWORD)
    mine.goto(live_server.url + reverse("distribution:dashboard"))
    invite_link = mine.input_value("#invite-url")
    assert invite_link.endswith(f"/r/{Referrer.objects.get(user=reseller).code}/")

    # and a friend, in their own browser, follows it, signs up, confirms and buys
    friend = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN").new_page()
    friend.goto(invite_link)
    friend.goto(live_server.url + reverse("account_signup"))
    friend.fill("input[name=email]", "friend@example.com")
    friend.fill("input[name=password1]", "a-long-pass-1234")
    friend.fill("input[name=password2]", "a-long-pass-1234")
    friend.press("input[name=password2]", "Enter")
    friend.wait_for_load_state("load")
    confirm_email(User.objects.get(email="friend@example.com"))
    sign_in(friend, live_server.url, "friend@example.com", "a-long-pass-1234")
    friend.goto(live_server.url + sku.product.get_absolute_url())
    friend.check(f"input[name=sku][value='{sku.pk}']")
    friend.fill("input[name=quantity]", "1")
    friend.check("input[name=payment_method][value=sandbox]")
    friend.click("form[action='/orders/new/'] [type=submit]")
    friend.wait_for_url("**/payments/sandbox/pay/**")
    friend.click("form[action$='/confirm/'] [type=submit]")
    friend.wait_for_url("**/orders/**")
    friend.wait_for_function("() => document.body.innerText.includes('VIP-')", timeout=15000)

    # then the reseller's promotion centre shows the friend and what they earned
    assert Referrer.objects.get(user__email="friend@example.com").inviter == reseller
    earned = sum(c.amount.amount for c in Commission.objects.filter(earner=reseller))
    assert earned > 0
    mine.goto(live_server.url + reverse("distribution:dashboard"))
    mine.wait_for_function("() => window.Chart && Chart.getChart('earnings-chart')")
    assert f"¥{earned:.2f}" in mine.inner_text("[data-earned-today]")
    mine.screenshot(path=str(ARTIFACTS / "promotion-centre.png"), full_page=True)
    mine.goto(live_server.url + reverse("distribution:team"))
    assert "fr***@example.com" in mine.inner_text("body")
    mine.screenshot(path=str(ARTIFACTS / "promotion-team.png"), full_page=True)

    # and on the withdrawal form the Alipay account is asked for only when the money goes to Alipay
    mine.goto(live_server.url + reverse("distribution:withdrawals"))
    assert mine.is_visible("input[name=account]")
    mine.check("input[name=method][value=wallet]")
    assert not mine.is_visible("input[name=account]")
