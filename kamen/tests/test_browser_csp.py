"""Chromium reports no Content-Security-Policy violation on the shop, its allauth pages and the admin.

The policy refuses inline script and style; these walks go through the main pages as a guest, a
shopper and staff, with the JavaScript that drives them (checkout total, payment polling, the
admin's slug and autocomplete widgets) doing its work under the policy.
"""

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.second_factor import current_code
from kamen.testing import factories
from kamen.testing.browser import ARTIFACTS, record_csp_violations
from kamen.testing.factories import STAFF_TOTP_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STAFF = ("ops@example.com", "ops-pass-2026")
SHOPPER = ("buyer@example.com", "buyer-pass-2026")


@pytest.fixture
def watched_page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.csp_violations = record_csp_violations(page)
    return page


@pytest.fixture
def shop(db):
    sku = factories.SkuFactory(price="30.00", name="30元面值", product__title="腾讯Q币 30元")
    codes = factories.stock(sku, 3, prefix="QB")
    for email, password, is_staff in (*STAFF, True), (*SHOPPER, False):
        user = factories.UserFactory(email=email, password=password, is_staff=is_staff, is_superuser=is_staff)
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return sku, codes


def visit(page, url: str) -> None:
    # "load": every script, style and image the page asks for has been let through or refused by then.
    page.goto(url, wait_until="load")


def sign_in(page, live_server, login: tuple[str, str], *, next_url: str = "/") -> None:
    visit(page, f"{live_server.url}{reverse('account_login')}?next={next_url}")
    page.fill("input[name=login]", login[0])
    page.fill("input[name=password]", login[1])
    page.click("form[action='/accounts/login/'] [type=submit]")
    page.wait_for_url(f"{live_server.url}{next_url}")


def test_a_guest_walks_the_shop_and_buys_without_a_violation(live_server, settings, watched_page, shop):
    sku, codes = shop
    settings.SANDBOX_NOTIFY_URL = live_server.url + reverse("payments:notify", args=["sandbox"])
    page = watched_page

    for url in (
        "/",
        sku.product.category.get_absolute_url(),
        "/search/?q=Q币",
        "/orders/lookup/",
        reverse("account_login"),
        reverse("account_signup"),
        reverse("account_reset_password"),
        "/no-such-page/",
    ):
        visit(page, live_server.url + url)

    # the product page's script keeps the total; the sandbox cashier; the order page polls for the code
    visit(page, live_server.url + sku.product.get_absolute_url())
    page.check(f"input[name=sku][value='{sku.pk}']")
    page.fill("input[name=quantity]", "2")
    assert "¥60.00" in page.inner_text("[data-total]")
    page.fill("input[name=quantity]", "1")
    page.fill("input[name=contact_email]", "guest@example.com")
    page.fill("input[name=lookup_password]", "my-lookup-1")
    page.check("input[name=payment_method][value=sandbox]")
    page.click("form[action='/orders/new/'] [type=submit]")
    page.wait_for_url("**/payments/sandbox/pay/**")
    page.click("form[action$='/confirm/'] [type=submit]")
    page.wait_for_function(
        "codes => codes.some(code => document.body.innerText.includes(code))", arg=codes, timeout=15000
    )
    page.screenshot(path=str(ARTIFACTS / "csp-order-delivered.png"), full_page=True)

    assert page.csp_violations == []


def test_a_visitor_signs_up_confirms_and_resets_a_password_without_a_violation(live_server, watched_page, db):
    page = watched_page

    visit(page, live_server.url + reverse("account_signup"))
    page.fill("input[name=email]", "newcomer@example.com")
    page.fill("input[name=password1]", "a-long-pass-phrase-9")
    page.fill("input[name=password2]", "a-long-pass-phrase-9")
    page.click("form[action='/accounts/signup/'] [type=submit]")
    page.wait_for_load_state("load")
    page.screenshot(path=str(ARTIFACTS / "csp-verification-sent.png"), full_page=True)
    confirm = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)

    visit(page, live_server.url + urlsplit(confirm).path)
    page.click("main form [type=submit]")
    page.wait_for_url(f"{live_server.url}/**")
    assert "newcomer@example.com" in page.inner_text(".topbar-links")  # confirmed, and signed in by it
    visit(page, live_server.url + reverse("account_change_password"))
    page.click(".topbar-links form[action='/accounts/logout/'] [type=submit]")
    page.wait_for_load_state("load")
    visit(page, live_server.url + reverse("account_reset_password"))
    page.fill("input[name=email]", "newcomer@example.com")
    page.click("main form [type=submit]")
    page.wait_for_url("**/accounts/password/reset/done/")

    assert len(mail.outbox) == 2  # the confirmation, the reset link
    assert page.csp_violations == []


def test_a_shopper_signs_in_and_sees_wallet_and_orders_without_a_violation(live_server, watched_page, shop):
    page = watched_page

    sign_in(page, live_server, SHOPPER)
    for url in (reverse("payments:wallet"), reverse("orders:mine"), reverse("account_email")):
        visit(page, live_server.url + url)
    page.click(".topbar-links form[action='/accounts/logout/'] [type=submit]")
    page.wait_for_load_state("load")

    assert page.csp_violations == []


def test_staff_work_in_the_admin_without_a_violation(live_server, watched_page, shop):
    sku, _ = shop
    page = watched_page

    # staff reach the admin through the shop's login
    visit(page, live_server.url + "/admin/")
    assert reverse("account_login") in page.url
    page.fill("input[name=login]", STAFF[0])
    page.fill("input[name=password]", STAFF[1])
    page.click("form[action='/accounts/login/'] [type=submit]")
    # and give the code of their authenticator app (allauth's second step)
    page.wait_for_url(f"{live_server.url}{reverse('mfa_authenticate')}")
    page.fill("input[name=code]", current_code(STAFF_TOTP_SECRET))
    page.press("input[name=code]", "Enter")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.screenshot(path=str(ARTIFACTS / "csp-admin-index.png"), full_page=True)

    # the slug is filled in from the name by the admin's script
    visit(page, live_server.url + reverse("admin:catalog_category_add"))
    page.locator("input[name=name]").press_sequentially("Steam Wallet")
    assert page.input_value("input[name=slug]") == "steam-wallet"

    # the SKU form's product field is an autocomplete (select2) that searches as staff type
    visit(page, live_server.url + reverse("admin:catalog_sku_change", args=[sku.pk]))
    page.click(".field-product .select2-selection")
    page.fill(".select2-search__field", "Q币")
    page.wait_for_selector(".select2-results__option:has-text('腾讯Q币 30元')")
    page.keyboard.press("Escape")

    for url in (
        reverse("admin:catalog_product_changelist"),
        reverse("admin:catalog_product_change", args=[sku.product.pk]),
        reverse("admin:orders_order_changelist"),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:payments_payment_changelist"),
    ):
        visit(page, live_server.url + url)
        assert page.locator("#content").is_visible()
    page.screenshot(path=str(ARTIFACTS / "csp-admin-payments.png"), full_page=True)

    assert page.csp_violations == []
