"""Encrypt the phones, e-mails and WeChat IDs stored before encryption, and turn the duplicate
keys into blind indexes, a committed batch at a time (``customers.rekeying``: plain SQL on
the columns as they are here; run again, it resumes where it stopped).

On SQLite, ``secure_delete`` zeroes the space the plaintext leaves behind, and the search
index's triggers, which the table rebuild of 0009 dropped, come back."""

from django.db import migrations

from highseas.customers.fts import create_search_index
from highseas.customers.rekeying import reencrypt


def encrypt_rows(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")
    create_search_index(connection)
    for _progress in reencrypt(connection):
        pass


class Migration(migrations.Migration):
    atomic = False  # each batch commits (a large table is not one transaction)

    dependencies = [
        ("customers", "0009_encrypted_personal_data"),
    ]

    operations = [migrations.RunPython(encrypt_rows, migrations.RunPython.noop, elidable=False)]
