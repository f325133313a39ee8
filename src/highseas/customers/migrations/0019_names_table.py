"""PostgreSQL: the two GIN indexes of names (trigram, character pairs) move off the customers
table onto ``customers_customer_names``, kept by triggers (``highseas.customers.fts``), so an
ownership change no longer writes them. SQLite's FTS tables already stood apart: nothing to
do there. Backwards, the indexes go back on the customers table."""

from django.db import migrations

from highseas.customers.fts import (
    NAMES_TABLE,
    TABLE,
    create_search_index,
    postgresql_names_on_customers,
)

# Statistics at once: the planner needs the pairs expression's to see that 科技 is in half the
# names (and walk them newest first); without them it read every match (科技 at 1M: 2.8 s,
# 118 ms with them).


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        create_search_index(schema_editor.connection)
        schema_editor.execute(f"ANALYZE {NAMES_TABLE}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        postgresql_names_on_customers(schema_editor.connection)
        schema_editor.execute(f"ANALYZE {TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0018_redundant_single_indexes"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
