"""Public search: an FTS5 trigram table with its triggers on SQLite, a pg_trgm GIN index on
PostgreSQL (see ``highseas.customers.fts``). Nothing on other databases."""

from django.db import migrations

from highseas.customers.fts import create_search_index, drop_search_index


def create(apps, schema_editor):
    create_search_index(schema_editor.connection)


def drop(apps, schema_editor):
    drop_search_index(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0005_duplicate_keys_and_merges"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
