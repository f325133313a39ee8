"""PostgreSQL: the two GIN indexes of names (trigram, character pairs) move off the customers
table onto ``customers_customer_names``, kept by triggers (``highseas.customers.fts``), so an
ownership change no longer writes them. SQLite's FTS tables already stood apart: nothing to
do there. Backwards, the indexes go back on the customers table."""

from django.db import migrations

from highseas.customers.fts import create_search_index, postgresql_names_on_customers


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        create_search_index(schema_editor.connection)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        postgresql_names_on_customers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0018_redundant_single_indexes"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
