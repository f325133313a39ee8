"""Writing duplicate keys in bulk, for ``backfill_keys`` and migration 0007.

No model imports: the migration uses it with the columns it knows. The values come ready
to store: the caller has made the phone, e-mail and credit-code keys blind indexes
(``customers.duplicates.key_values``). SQLite takes one
``UPDATE … WHERE id = ?`` per row through ``executemany`` (no round trips there);
PostgreSQL takes one ``UPDATE … FROM (VALUES …)`` per thousand rows, since a statement per
row costs a round trip each.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.backends.base.base import BaseDatabaseWrapper

KEY_COLUMNS = ("phone_key", "email_key", "credit_key", "name_key")
CHUNK = 1000

KeyRow = tuple[int, str | None, str | None, str | None, str | None]  # id, then KEY_COLUMNS


def write_keys(connection: BaseDatabaseWrapper, table: str, rows: Sequence[KeyRow]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{column} = %s" for column in KEY_COLUMNS)
            sql = f"UPDATE {table} SET {assignments} WHERE id = %s"
            cursor.executemany(sql, [(*keys, customer_id) for customer_id, *keys in rows])
            return
        assignments = ", ".join(
            f"{column} = v.column{position}" for position, column in enumerate(KEY_COLUMNS, 2)
        )
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} AS c SET {assignments} "
                f"FROM (VALUES {values}) AS v WHERE c.id = v.column1",
                [value for row in chunk for value in row],
            )
