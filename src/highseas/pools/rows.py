"""Writing many rows (ledger events, assignment decisions) as plain values, set-based.

``bulk_create`` builds a model instance and prepares every field of every row, which costs more
than the database's own work at the scale of a backlog run; the rows written here are plain
tuples of already-adapted values, in the order of the named fields.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Model

ROWS_PER_STATEMENT = 1_000


def columns(model: type[Model], *names: str) -> tuple[str, list[str]]:
    """The model's quoted table name, and the quoted columns of the named fields."""
    quote = connection.ops.quote_name
    column_of = {field.name: field.column for field in model._meta.concrete_fields}
    return quote(model._meta.db_table), [quote(column_of[name]) for name in names]


def insert_rows(model: type[Model], fields: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """``INSERT`` every row (values in the order of ``fields``): one ``executemany`` on
    SQLite, where it is the fastest; multi-row ``VALUES`` elsewhere, since a driver's
    ``executemany`` there still runs one statement per row."""
    if not rows:
        return
    table, quoted = columns(model, *fields)
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = f"INSERT INTO {table} ({', '.join(quoted)}) VALUES "
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.executemany(head + row_marks, rows)
            return
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            cursor.execute(
                head + ", ".join([row_marks] * len(chunk)), [v for row in chunk for v in row]
            )


def db_datetime(moment: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


def db_time(moment: datetime | None) -> Any:
    return None if moment is None else db_datetime(moment)


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def db_json(value: Any) -> Any:
    """A JSON column's value: compact text on SQLite, the driver's JSON adapter elsewhere."""
    if connection.vendor == "sqlite":
        return _COMPACT.encode(value)
    return connection.ops.adapt_json_value(value, None)
