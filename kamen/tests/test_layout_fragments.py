"""The layout's header, category bar and footer, reused from {% fragment %} (kamen/templatetags/fragments.py):
a page rendered afresh shows the same layout it would have rendered itself — the shop settings and the
categories of the moment, its own search, its own place in the bar, the visitor's language and
whether they are signed in. The pages read here (order lookup, search, category) are rendered, not
served whole from the page cache, or their address differs each time."""

import re

from django.test import Client
from django.urls import reverse

from catalog.cache import catalog_changed
from kamen import shop_settings
from kamen.testing import factories


def active_links(html: str) -> list[str]:
    return re.findall(r'class="catnav-link is-active" href="([^"]+)"', html)


def test_a_settings_change_shows_in_the_header_and_footer_of_the_next_page(client, db):
    lookup = reverse("orders:lookup")
    assert "© kamen" in client.get(lookup).content.decode()

    shop = shop_settings.settings_for_edit()
    shop.name = "星河卡铺"
    shop.contact_qq = "10001"
    shop_settings.update_shop_settings(shop, actor=None)

    html = client.get(lookup).content.decode()
    assert "星河卡铺" in html.split('class="site-header"')[1].split("</header>")[0]
    assert "10001" in html.split('class="site-footer"')[1]


def test_a_new_category_shows_in_the_bar_at_once(client, sku):
    lookup = reverse("orders:lookup")
    client.get(lookup)

    factories.CategoryFactory(name="新上架分类")
    catalog_changed()  # as the admin's save of a category does

    assert "新上架分类" in client.get(lookup).content.decode()


def test_the_bar_marks_the_page_its_on(client, sku):
    top = sku.product.category
    child = factories.CategoryFactory(parent=top)
    other = factories.CategoryFactory()

    assert active_links(client.get(reverse("catalog:home")).content.decode()) == [reverse("catalog:home")]
    assert active_links(client.get(top.get_absolute_url()).content.decode()) == [top.get_absolute_url()]
    assert active_links(client.get(child.get_absolute_url()).content.decode()) == [top.get_absolute_url()]
    assert active_links(client.get(other.get_absolute_url()).content.decode()) == [other.get_absolute_url()]
    assert active_links(client.get(reverse("orders:lookup")).content.decode()) == []


def test_the_search_box_holds_this_search(client, sku):
    for word in ("腾讯", "原神"):
        html = client.get(reverse("catalog:search"), {"q": word}).content.decode()
        assert f'name="q" value="{word}"' in html


def test_the_footer_follows_who_is_looking_and_their_language(client, shopper):
    lookup = reverse("orders:lookup")
    mine = f'href="{reverse("orders:mine")}"'
    footer = lambda response: response.content.decode().split('class="site-footer"')[1]  # noqa: E731

    assert mine not in footer(client.get(lookup))
    member = Client()
    member.force_login(shopper)
    assert mine in footer(member.get(lookup))
    assert mine not in footer(client.get(lookup))

    english = footer(client.get(lookup, headers={"accept-language": "en"}))
    assert "Terms of service" in english and "用户协议" in footer(client.get(lookup))
