import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

from kamen.migration_operations import AddIndexOnPostgreSQL


def fill_search_terms(apps, schema_editor):
    """Give the products that exist their search terms (new and edited ones get them on save)."""
    from catalog import search

    Product = apps.get_model("catalog", "Product")
    products = list(Product.objects.only("pk", *search.SOURCE_FIELDS))
    for product in products:
        search.fill(product)
    Product.objects.bulk_update(products, search.FIELDS, batch_size=1000)


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
