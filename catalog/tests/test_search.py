"""Search: Chinese words of two characters and more found through the index, ranked title first."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from catalog import search, selectors
from catalog.models import Product
from kamen.testing import factories


def titles(query: str) -> list[str]:
    return [product.title for product in selectors.listing(query=query)]


def test_terms_are_two_character_pieces_of_chinese_and_whole_other_words():
    assert search.terms("王者荣耀 Steam充值卡") == "王者 者荣 荣耀 耀 steam 充值 值卡 卡"
    assert search.tsquery("视频会员") == "(视频 <-> 频会 <-> 会员)"
    assert search.tsquery("腾 steam") == "腾:* & steam:*"
    assert search.tsquery("&|!():*'\\ <->") == ""  # nothing of the tsquery syntax gets through


@pytest.mark.postgres
def test_two_character_and_longer_chinese_words_find_the_products_holding_them(db):
    # One category without digits: search also finds a category's products by its name, and a
    # factory's 分类60 would match "60".
    category = factories.CategoryFactory(name="游戏", slug="search-games")
    for title in ("王者荣耀点券 60", "腾讯视频会员月卡", "视频VIP会员", "原神创世结晶", "网易一卡通"):
        factories.SkuFactory(product__title=title, product__category=category)

    assert titles("荣耀") == ["王者荣耀点券 60"]
    assert titles("原神") == ["原神创世结晶"]
    assert titles("视频会员") == ["腾讯视频会员月卡"]  # a substring, not the two words anywhere
    assert titles("腾讯") == ["腾讯视频会员月卡"]
    assert sorted(titles("会员")) == ["腾讯视频会员月卡", "视频VIP会员"]
    assert titles("vip") == ["视频VIP会员"] and titles("60") == ["王者荣耀点券 60"]
    assert titles("王者 60") == ["王者荣耀点券 60"]  # every word must match
    assert titles("王者 原神") == []


@pytest.mark.postgres
def test_a_title_match_ranks_before_a_keyword_match_before_a_description_match(db):
    in_description = factories.SkuFactory(product__title="月卡 A", product__description="支持原神账号").product
    in_keywords = factories.SkuFactory(product__title="月卡 B", product__keywords="原神").product
    in_title = factories.SkuFactory(product__title="原神月卡 C").product
    for product in (in_description, in_keywords, in_title):
        product.sort_order = 0
        product.save()

    assert titles("原神") == [in_title.title, in_keywords.title, in_description.title]


@pytest.mark.postgres
def test_an_edited_title_is_found_by_its_new_words_only(db):
    product = factories.SkuFactory(product__title="旧名字点卡").product
    product.title = "新名字点卡"
    product.save(update_fields=["title"])

    assert titles("新名") == ["新名字点卡"] and titles("旧名") == []


@pytest.mark.postgres
def test_search_reads_the_index_not_the_whole_table(db):
    category = factories.CategoryFactory()
    products = [
        Product(category=category, title=f"网易一卡通 {n}", status=Product.Status.APPROVED, is_on_shelf=True)
        for n in range(3000)
    ]
    for product in products:
        search.fill(product)
    Product.objects.bulk_create(products)
    factories.SkuFactory(product__title="腾讯视频会员月卡")
    query = selectors.listing(query="视频会员")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_product")
        sql, params = query.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "product_search" in plan and "Seq Scan on catalog_product" not in plan, plan
    assert titles("视频会员") == ["腾讯视频会员月卡"]


@pytest.mark.postgres
def test_products_stored_before_search_terms_existed_are_found_after_the_migration(db):
    # Stored as before the terms existed: bulk_create writes the row as given, its terms empty.
    category = factories.CategoryFactory(name="手游", slug="old-games")
    Product.objects.bulk_create(
        [Product(category=category, title="王者荣耀点券", status=Product.Status.APPROVED, is_on_shelf=True)]
    )
    assert titles("荣耀") == []

    # The migration's own data step; its schema steps run in every test run's migrate.
    migration = importlib.import_module("catalog.migrations.0006_product_search")
    migration.fill_search_terms(apps, schema_editor=None)

    assert titles("荣耀") == ["王者荣耀点券"]
    assert Product.objects.get().search_title == "王者 者荣 荣耀 耀点 点券 券"
