"""Search (``highseas.customers.fts``): the character-pairs index of names (1- and
2-character queries), the pinyin table of core names with its queue trigger, and an index on
contact names. The trigram index of 0006 stays; ``create_search_index`` is idempotent, and
undoing this migration leaves the new objects (older code ignores them)."""

from django.db import migrations

from highseas.customers.fts import create_search_index, fill_pinyin


def create(apps, schema_editor):
    create_search_index(schema_editor.connection)
    fill_pinyin(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0012_deal_contract_end"),
    ]

    operations = [
        migrations.RunPython(create, migrations.RunPython.noop, elidable=False),
    ]
