"""Migration operations that only some databases carry out."""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations


class AddIndexOnPostgreSQL(migrations.AddIndex):
    """An index only PostgreSQL can build (GIN over a tsvector): the model state has it everywhere,
    so migrations stay in step, but other databases skip creating it."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class PostgreSQLGinIndex(GinIndex):
    """A GIN index that other databases leave out, also when they rebuild a table.

    SQLite alters a table by copying it into a new one with every index of the model; a GIN index over
    a tsvector is PostgreSQL's alone, so there it is neither created nor dropped.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return ""
        return super().create_sql(model, schema_editor, using=using, **kwargs)

    def remove_sql(self, model, schema_editor, **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return ""
        return super().remove_sql(model, schema_editor, **kwargs)
