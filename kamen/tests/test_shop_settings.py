"""Shop settings: staff edit them on one admin page, each save audited with what changed; a change shows
at once on cached pages; the help, terms and privacy pages show staff's text escaped; the reservation
time and each feature switch change what the shop does; and nothing turns into a 500 while the cache
is down."""

import re
from datetime import timedelta
from io import BytesIO

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from djmoney.money import Money
from PIL import Image

from accounts import points
from accounts.models import User
from kamen import cache as kamen_cache
from kamen import shop_settings
from kamen.models import ShopSettings, StaffAction
from kamen.settings import redis_cache
from kamen.testing import factories
from kamen.testing.outage import free_port
from kamen.testing.pages import guest_checkout
from orders.models import PointsReward
from orders.services import CheckoutError, points_mall

ADMIN_URL = "/admin/kamen/shopsettings/"
CHANGE_URL = f"{ADMIN_URL}1/change/"
HOME = "/"


def change(**values) -> ShopSettings:
    """Staff's edit of the settings, saved through the service as the admin page saves it."""
    shop = shop_settings.settings_for_edit()
    for name, value in values.items():
        setattr(shop, name, value)
    shop_settings.update_shop_settings(shop, actor=None)
    return shop


def settings_form(**values) -> dict:
    """What the settings page posts: every field as it is now, `values` changed (a switch off: False)."""
    shop = shop_settings.settings_for_edit()
    data = {}
    for name in shop_settings.EDITABLE:
        value = values.get(name, getattr(shop, name))
        if name == "logo":
            if value:
                data[name] = value
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    return data


def png(size=(160, 48)) -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", size, "#ff5000").save(buffer, "PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


# ---------------------------------------------------------------- the settings page


def test_opening_the_settings_list_opens_the_one_settings_row(client, staff):
    client.force_login(staff)

    response = client.get(ADMIN_URL)

    assert response.status_code == 302 and response["Location"] == CHANGE_URL
    assert client.get(CHANGE_URL).status_code == 200
    assert client.get(f"{ADMIN_URL}add/").status_code == 403
    assert client.get(f"{ADMIN_URL}1/delete/").status_code == 403
    assert ShopSettings.objects.count() == 1


def test_saving_the_settings_page_audits_only_what_changed(client, staff):
    client.force_login(staff)
    client.get(ADMIN_URL)

    data = settings_form(name="小卖铺", contact_qq="800012345", reservation_minutes=30, points_mall=False)
    response = client.post(CHANGE_URL, data, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 302, response.content.decode()[:2000]
    shop = ShopSettings.objects.get()
    assert (shop.name, shop.contact_qq, shop.reservation_minutes) == ("小卖铺", "800012345", 30)
    assert not shop.points_mall
    action = StaffAction.objects.get()
    assert action.kind == StaffAction.Kind.SETTINGS_CHANGE and action.actor == staff and action.ip == "203.0.113.9"
    assert action.before == {"name": "", "contact_qq": "", "reservation_minutes": None, "points_mall": True}
    assert action.after == {
        "name": "小卖铺",
        "contact_qq": "800012345",
        "reservation_minutes": 30,
        "points_mall": False,
    }

    client.post(CHANGE_URL, settings_form())  # saved again unchanged: nothing to record
    assert StaffAction.objects.count() == 1


def test_the_settings_page_refuses_bad_values_and_changes_nothing(client, staff):
    client.force_login(staff)
    client.get(ADMIN_URL)

    refused = (
        {"reservation_minutes": 4},
        {"reservation_minutes": 121},
        {"contact_qq": "12ab"},
        {"contact_telegram": "x"},
    )
    for bad in refused:
        response = client.post(CHANGE_URL, settings_form(**bad))
        assert response.status_code == 200 and "errornote" in response.content.decode(), bad

    assert StaffAction.objects.count() == 0
    assert ShopSettings.objects.get().reservation_minutes is None


def test_the_database_keeps_the_reservation_minutes_in_bounds(db):
    shop = shop_settings.settings_for_edit()
    shop.reservation_minutes = 500
    with pytest.raises(ValidationError):
        shop.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        ShopSettings.objects.filter(pk=shop.pk).update(reservation_minutes=500)
    with pytest.raises(IntegrityError), transaction.atomic():
        ShopSettings.objects.create(pk=2)  # one row only


def test_staff_without_the_permission_cannot_open_the_settings(client, db):
    clerk = factories.UserFactory(email="clerk@example.com", is_staff=True)
    client.force_login(clerk)
    assert client.get(ADMIN_URL).status_code == 403

    clerk.user_permissions.add(Permission.objects.get(codename="view_shopsettings"))
    client.get(ADMIN_URL)
    assert client.post(CHANGE_URL, settings_form(name="偷改")).status_code == 403
    assert ShopSettings.objects.get().name == ""


def test_a_logo_is_an_image_of_at_most_512_kb_and_shows_in_the_header(client, staff, media):
    client.force_login(staff)
    client.get(ADMIN_URL)

    fake = SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>", content_type="image/png")
    assert "errornote" in client.post(CHANGE_URL, settings_form(logo=fake)).content.decode()
    svg = SimpleUploadedFile("logo.svg", b"<svg></svg>", content_type="image/svg+xml")
    assert "errornote" in client.post(CHANGE_URL, settings_form(logo=svg)).content.decode()
    big = SimpleUploadedFile("logo.png", png().read() + b"\0" * (512 * 1024), content_type="image/png")
    assert "errornote" in client.post(CHANGE_URL, settings_form(logo=big)).content.decode()

    assert client.post(CHANGE_URL, settings_form(logo=png())).status_code == 302
    shop = ShopSettings.objects.get()
    assert StaffAction.objects.get().after == {"logo": shop.logo.name}
    client.logout()
    assert f'<img class="logo-image" src="{shop.logo.url}"' in client.get(HOME).content.decode()


# ---------------------------------------------------------------- what pages show


def test_a_change_shows_at_once_on_the_cached_home_page_and_in_the_footer(client, sku, django_assert_num_queries):
    assert "800012345" not in client.get(HOME).content.decode()
    with django_assert_num_queries(0):  # served from the page cache
        client.get(HOME)

    change(name="小卖铺", contact_qq="800012345", contact_telegram="kamen_help", service_hours="每天 9:00–23:00")

    page = client.get(HOME).content.decode()
    assert re.search(r"<title>[^<]*- 小卖铺</title>", page)
    footer = page[page.index('<footer class="site-footer">') :]
    assert "800012345" in footer and 'href="https://t.me/kamen_help"' in footer and "每天 9:00–23:00" in footer
    assert f'href="{reverse("shop:help")}#contact"' in footer
    assert "© 小卖铺" in footer


def test_a_change_shows_at_once_on_a_members_cached_product_page(client, shopper, sku):
    client.force_login(shopper)
    url = sku.product.get_absolute_url()
    client.get(url)

    change(name="会员小店")

    assert "会员小店" in client.get(url).content.decode()


def test_the_help_page_shows_the_faq_and_the_contact_escaped(client, db):
    change(
        faq="付款后多久发货？\n几秒内自动发货。\n\n卡密无效<script>alert(1)</script>？\n申请退款\n附上截图",
        contact_email="help@example.com",
    )

    page = client.get(reverse("shop:help")).content.decode()

    assert '<summary class="faq-question">付款后多久发货？</summary>' in page
    assert "<p>几秒内自动发货。</p>" in page and "<p>申请退款<br>附上截图</p>" in page
    assert "<script>alert(1)</script>" not in page
    assert "卡密无效&lt;script&gt;alert(1)&lt;/script&gt;？" in page
    assert 'href="mailto:help@example.com"' in page


@pytest.mark.parametrize("name", ["terms", "privacy"])
def test_terms_and_privacy_show_staffs_text_escaped(client, db, name):
    change(**{name: "第一条 <b>加粗</b>\n第二行\n\n第二条"})

    page = client.get(reverse(f"shop:{name}")).content.decode()

    assert "<p>第一条 &lt;b&gt;加粗&lt;/b&gt;<br>第二行</p>" in page and "<p>第二条</p>" in page


def test_english_pages_show_the_english_text_or_the_chinese_one(client, db, english):
    change(faq="怎么买？\n直接下单。", terms="中文协议", terms_en="English terms")

    assert "<p>English terms</p>" in client.get(reverse("shop:terms")).content.decode()
    assert "怎么买？" in client.get(reverse("shop:help")).content.decode()


def test_the_sign_up_form_links_to_the_terms_and_the_privacy_policy(client, db):
    page = client.get(reverse("account_signup")).content.decode()

    consent = re.search(r'<p class="signup-consent">(.*?)</p>', page, re.S)[1]
    assert f'href="{reverse("shop:terms")}"' in consent and f'href="{reverse("shop:privacy")}"' in consent


def test_e_mails_carry_the_shop_name(sku, shopper, paid_order, mailoutbox):
    change(name="小卖铺")

    paid_order(sku, quantity=1, user=shopper)

    assert mailoutbox and all("小卖铺" in message.subject for message in mailoutbox)
    assert any(message.body.rstrip().endswith("小卖铺") for message in mailoutbox)


def test_seed_demo_fills_the_blank_texts_and_keeps_what_staff_wrote(db):
    change(contact_qq="123456")

    shop_settings.fill_blanks({"contact_qq": "800012345", "faq": "问？\n答。"})

    shop = ShopSettings.objects.get()
    assert shop.contact_qq == "123456" and shop.faq == "问？\n答。"


# ---------------------------------------------------------------- what the shop does


def test_orders_hold_their_codes_for_the_reservation_minutes_of_the_settings(sku, settings):
    settings.ORDER_RESERVATION_MINUTES = 15
    first = factories.place_order(sku, quantity=1).order
    assert first.expires_at - first.created_at == timedelta(minutes=15)

    change(reservation_minutes=45)

    order = factories.place_order(sku, quantity=1).order
    assert order.expires_at - order.created_at == timedelta(minutes=45)


def test_without_guest_checkout_only_members_buy(client, sku, shopper):
    change(guest_checkout=False)

    with pytest.raises(CheckoutError):
        factories.place_order(sku, quantity=1)
    response = guest_checkout(client, sku)
    assert response.status_code == 400
    assert "data-members-only" in client.get(sku.product.get_absolute_url()).content.decode()

    assert factories.place_order(sku, quantity=1, user=shopper).order.user == shopper

    change(guest_checkout=True)
    assert guest_checkout(client, sku).status_code == 302


def test_with_sign_up_closed_nobody_signs_up(client, db):
    change(sign_up_open=False)
    data = {"email": "new@example.com", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"}

    client.post(reverse("account_signup"), data)

    assert not User.objects.filter(email="new@example.com").exists()
    assert 'name="password1"' not in client.get(reverse("account_signup")).content.decode()
    assert f'href="{reverse("account_signup")}"' not in client.get(HOME).content.decode()


def test_with_daily_check_in_off_nobody_checks_in(client, shopper):
    change(daily_check_in=False)
    client.force_login(shopper)

    with pytest.raises(points.PointsRefused):
        points.check_in(shopper)
    client.post(reverse("orders:check_in"))

    assert points.get_or_create_account(shopper).balance == 0
    assert reverse("orders:check_in") not in client.get(reverse("orders:points")).content.decode()


def test_with_the_points_mall_off_nothing_is_redeemed(client, shopper):
    reward = PointsReward.objects.create(name="1元余额", kind="credit", points=50, credit=Money("1.00", "CNY"))
    points.give_points(shopper, 100, reference="test")
    change(points_mall=False)
    client.force_login(shopper)

    with pytest.raises(points_mall.RedemptionRefused):
        points_mall.redeem(reward.pk, user=shopper)
    client.post(reverse("orders:redeem", args=[reward.pk]))

    assert points.get_or_create_account(shopper).balance == 100
    assert reverse("orders:redeem", args=[reward.pk]) not in client.get(reverse("orders:points")).content.decode()


# ---------------------------------------------------------------- with the cache down


@pytest.fixture
def cache_down(settings):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{free_port()}/0")
    kamen_cache._down_until.clear()
    yield
    kamen_cache._down_until.clear()


def test_pages_and_the_settings_page_work_while_the_cache_is_down(client, staff, sku, cache_down):
    client.force_login(staff)
    assert client.get(ADMIN_URL).status_code == 302
    assert client.post(CHANGE_URL, settings_form(name="断缓存小店", contact_qq="800012345")).status_code == 302
    client.logout()

    for url in (HOME, reverse("shop:help"), reverse("shop:terms"), reverse("shop:privacy"), reverse("account_signup")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "断缓存小店" in response.content.decode(), url
    assert shop_settings.reservation_minutes() > 0
