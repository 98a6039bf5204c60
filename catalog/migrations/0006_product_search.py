import re

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

from kamen.migration_operations import AddIndexOnPostgreSQL


# The terms as catalog/search.py made them when this migration was written, copied here so the
# migration keeps doing what it did whatever that module becomes.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(rf"[{HAN}]+|[^\W_{HAN}]+")


def terms(text: str) -> str:
    out = []
    for token in TOKEN.findall(text.lower()):
        if "\u3400" <= token[0] <= "\u9fff" or "\uf900" <= token[0] <= "\ufaff":
            out += [token[i : i + 2] for i in range(len(token) - 1)] + [token[-1]]
        else:
            out.append(token)
    return " ".join(out)


def fill_search_terms(apps, schema_editor):
    """Give the products that exist their search terms (new and edited ones get them on save)."""
    Product = apps.get_model("catalog", "Product")
    products = list(Product.objects.only("pk", "title", "brand", "keywords", "description"))
    for product in products:
        product.search_title = terms(product.title)
        product.search_keywords = terms(f"{product.brand} {product.keywords}")
        product.search_body = terms(product.description)
    Product.objects.bulk_update(products, ["search_title", "search_keywords", "search_body"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_field_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="product",
            name="search_body",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="product",
            name="search_keywords",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="product",
            name="search_title",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill_search_terms, migrations.RunPython.noop),
        AddIndexOnPostgreSQL(
            model_name="product",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.CombinedSearchVector(
                    django.contrib.postgres.search.CombinedSearchVector(
                        django.contrib.postgres.search.SearchVector("search_title", config="simple", weight="A"),
                        "||",
                        django.contrib.postgres.search.SearchVector("search_keywords", config="simple", weight="B"),
                        django.contrib.postgres.search.SearchConfig("simple"),
                    ),
                    "||",
                    django.contrib.postgres.search.SearchVector("search_body", config="simple", weight="C"),
                    django.contrib.postgres.search.SearchConfig("simple"),
                ),
                name="product_search",
            ),
        ),
    ]
