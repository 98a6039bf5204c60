"""The back office in Chromium at 1280 px and at phone width: the dashboard draws its chart, and the
product list and an order page fit the screen (screenshots in test-artifacts/)."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from backoffice import services
from kamen.testing.browser import ARTIFACTS, record_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture
def business(buy, shopper, staff):
    today = datetime.date.today()
    for back, quantity in ((3, 2), (2, 1), (1, 3)):
        buy(shopper, today - datetime.timedelta(days=back), quantity=quantity)
    order = buy(shopper, today, quantity=1)
    services.summarize_recent(days=3)
    return order


def chart_drawn(page) -> bool:
    """Whether the dashboard's chart canvas comes to hold a drawing within ten seconds."""
    try:
        page.wait_for_function(
            """() => { const c = document.querySelector('.kd-chart canvas');
                       return !!c && c.width > 0 && c.toDataURL().length > 5000; }""",
            timeout=10_000,
        )
    except PlaywrightTimeout:
        return False
    return True


def overflows(page) -> bool:
    """Whether the page is wider than the screen, so the phone would scroll sideways."""
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")


@pytest.mark.parametrize("device", WIDTHS)
def test_the_dashboard_product_list_and_an_order_in_the_admin(live_server, browser, client, staff, business, device):
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    client.force_login(staff)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    violations = record_csp_violations(page)

    page.goto(live_server.url + reverse("admin:index"), wait_until="networkidle")
    # Chart.js drew the GMV line: its canvas has pixels, not just the element. The line is animated
    # in over a second after load, so a busy machine may still be at its first frames at network idle.
    drawn = chart_drawn(page)
    page.screenshot(path=str(ARTIFACTS / f"admin-dashboard-{device}.png"), full_page=True)
    assert drawn
    assert "今日成交额" in page.content() and "¥10.00" in page.content()
    assert not overflows(page)

    page.goto(live_server.url + reverse("admin:catalog_product_changelist"), wait_until="networkidle")
    page.screenshot(path=str(ARTIFACTS / f"admin-products-{device}.png"), full_page=True)
    assert business.product_title in page.content()
    assert not overflows(page)

    page.goto(live_server.url + reverse("admin:orders_order_change", args=[business.pk]), wait_until="networkidle")
    page.screenshot(path=str(ARTIFACTS / f"admin-order-{device}.png"), full_page=True)
    assert business.number in page.content()
    assert not overflows(page)
    assert violations == []


def test_every_admin_list_fits_a_1280_px_screen(live_server, browser, client, staff, business):
    from django.contrib import admin

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    client.force_login(staff)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    too_wide = []
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        page.goto(live_server.url + url, wait_until="load")
        widths = page.evaluate(
            """() => { const table = document.querySelector('#result_list');
                       return table ? [table.scrollWidth, table.parentElement.clientWidth] : [0, 0]; }"""
        )
        if widths[0] > widths[1] + 1 or overflows(page):
            too_wide.append(f"{url} {widths}")

    assert too_wide == []
