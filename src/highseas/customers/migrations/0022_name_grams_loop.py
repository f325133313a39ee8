"""PostgreSQL: ``highseas_name_grams`` (the names table's pairs index) as a PL/pgSQL loop
rather than a SQL query over ``generate_series``, about half the time per name written. It
gives every name the same set of grams (the index keeps sets, the search asks ``@>``), so the
index stays as it is. SQLite: nothing to do. Backwards, the earlier definition."""

from django.db import migrations

from highseas.customers.fts import GRAMS_FUNCTION, POSTGRESQL_GRAMS

EARLIER_GRAMS = f"""
CREATE OR REPLACE FUNCTION {GRAMS_FUNCTION}(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT gram), '{{}}') FROM (
    SELECT lower(substr(name, i, 2)) FROM generate_series(1, char_length(name)) AS i
    UNION ALL
    SELECT lower(substr(name, i, 1)) FROM generate_series(1, char_length(name)) AS i
  ) AS grams(gram)
$$
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_GRAMS)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(EARLIER_GRAMS)


class Migration(migrations.Migration):
    dependencies = [("customers", "0021_partial_fk_indexes")]

    operations = [migrations.RunPython(forward, backward)]
