"""The product search index becomes a PostgreSQLGinIndex in the model state: the same index in
PostgreSQL (nothing is rebuilt), and no longer one SQLite tries to build when it copies the table."""

from django.contrib.postgres.search import CombinedSearchVector, SearchConfig, SearchVector
from django.db import migrations

from kamen.migration_operations import PostgreSQLGinIndex


def _vector():
    return CombinedSearchVector(
        CombinedSearchVector(
            SearchVector("search_title", config="simple", weight="A"),
            "||",
            SearchVector("search_keywords", config="simple", weight="B"),
            SearchConfig("simple"),
        ),
        "||",
        SearchVector("search_body", config="simple", weight="C"),
        SearchConfig("simple"),
    )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0011_suppliers")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="product", name="product_search"),
                migrations.AddIndex(model_name="product", index=PostgreSQLGinIndex(_vector(), name="product_search")),
            ]
        )
    ]
