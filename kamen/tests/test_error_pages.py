"""The shop's own error pages: its language and layout, no debug detail, and no database needed.

None of these tests may touch the database (pytest-django refuses it without the `db` fixture), so a
page that reads the menu or the session to render fails here as it would during an outage.
"""

import pytest
from django.test import Client


@pytest.fixture
def shopper_client(settings):
    settings.ROOT_URLCONF = "kamen.tests.failing_urls"
    return Client(raise_request_exception=False)


def text(response) -> str:
    return response.content.decode()


def assert_shop_page(response, status: int, *phrases: str) -> None:
    html = text(response)
    assert response.status_code == status
    assert 'class="logo"' in html and "site-footer" in html  # the shop's layout
    for phrase in phrases:
        assert phrase in html
    assert "Traceback" not in html and "URLconf" not in html and "SECRET_KEY" not in html


def test_an_unknown_address_gets_the_shops_404(shopper_client):
    response = shopper_client.get("/no-such-page/")

    assert_shop_page(response, 404, "页面不存在", "返回首页")


def test_a_crash_gets_the_shops_500_without_its_detail(shopper_client):
    response = shopper_client.get("/crash/")

    assert_shop_page(response, 500, "服务器开小差了")
    assert "secret detail" not in text(response)


def test_a_forbidden_page_gets_the_shops_403(shopper_client):
    assert_shop_page(shopper_client.get("/deny/"), 403, "无权访问")


def test_a_malformed_request_gets_the_shops_400(shopper_client):
    assert_shop_page(shopper_client.get("/refuse/"), 400, "请求无法处理")


def test_a_host_the_shop_does_not_serve_gets_the_400_page(shopper_client):
    response = shopper_client.get("/", HTTP_HOST="attacker.example")

    assert_shop_page(response, 400, "请求无法处理")
    assert "attacker.example" not in text(response) and "ALLOWED_HOSTS" not in text(response)


def test_a_form_sent_without_its_csrf_token_gets_the_shops_403(settings):
    response = Client(enforce_csrf_checks=True).post("/orders/lookup/", {"number": "K1"})

    assert_shop_page(response, 403, "表单已过期")


def test_error_pages_speak_english_when_asked(shopper_client):
    response = shopper_client.get("/crash/", HTTP_ACCEPT_LANGUAGE="en")

    assert_shop_page(response, 500, "Something went wrong on our side")
