"""Fill the duplicate keys of the customers that existed before them, in batches.

Plain SQL on the columns as they are at this migration (not the current model), so that later
changes to the model cannot break it."""

from django.db import migrations

from highseas.customers.keyfill import write_keys
from highseas.engine.duplicates import duplicate_keys

BATCH = 5000
TABLE = "customers_customer"


def backfill(apps, schema_editor):
    connection = schema_editor.connection
    last_id = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, name, kind, phone, email, credit_code FROM {TABLE} "
                "WHERE id > %s ORDER BY id LIMIT %s",
                [last_id, BATCH],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        keyed = []
        for customer_id, name, kind, phone, email, credit_code in rows:
            keys = duplicate_keys(
                name=name, kind=kind, phone=phone, email=email, credit_code=credit_code
            )
            keyed.append(
                (
                    customer_id,
                    keys.phone or None,
                    keys.email or None,
                    keys.credit_code or None,
                    keys.name or None,
                )
            )
        write_keys(connection, TABLE, keyed)
        last_id = rows[-1][0]


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0006_public_search_index"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
