"""PostgreSQL: the pinyin queue's keeper takes an insert's new cores set-based, from the
statement's transition table (one ``INSERT … SELECT`` per ``COPY`` or multi-row ``INSERT``,
not one trigger call per row; a changed ``name_key`` still queues its one row), and both search
keepers stand aside in a transaction that suspends them (``fts.search_upkeep_off``: an
import's preview, rolled back). The queue and the names table hold the same rows as before.
SQLite: nothing to do. Backwards, the per-row queue trigger and the earlier keepers."""

from django.db import migrations

from highseas.customers.fts import (
    NAMES_FUNCTION,
    NAMES_TABLE,
    PINYIN_TABLE,
    QUEUE_FUNCTION,
    QUEUE_TRIGGER,
    QUEUE_TRIGGERS,
    TABLE,
    names_keeper,
    postgresql_upkeep,
)

EARLIER_QUEUE = f"""
CREATE OR REPLACE FUNCTION {QUEUE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name_key IS NOT NULL THEN
    INSERT INTO {PINYIN_TABLE}(core) VALUES (NEW.name_key) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$
"""
EARLIER_NAMES = names_keeper(guard="")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        postgresql_upkeep(schema_editor.connection)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in QUEUE_TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
    schema_editor.execute(EARLIER_QUEUE)
    schema_editor.execute(EARLIER_NAMES)
    schema_editor.execute(
        f"CREATE TRIGGER {QUEUE_TRIGGER} AFTER INSERT OR UPDATE OF name_key ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION {QUEUE_FUNCTION}()"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0019_names_table"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
