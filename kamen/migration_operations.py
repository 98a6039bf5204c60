"""Migration operations that only some databases carry out."""

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
