"""One ``UPDATE`` for a batch of rows that each get their own values (set-based writes of the
sweep and of assignment runs): ``UPDATE t SET a = v.column2, … FROM (VALUES (…), …) AS v
WHERE t.id = v.column1 AND <guard>``, a compare-and-set whose guard is the state every row must
still be in; the caller checks the count.

SQLite (3.33+) names the columns of a bare ``VALUES`` ``column1, column2, …``; on PostgreSQL
the rows travel as one array per column, typed with the fields' types, unnested under the same
names (a multi-row ``VALUES`` would be a statement the driver parses anew each time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

from highseas.pools.rows import columns

ROWS_PER_STATEMENT = 500
ROWS_PER_ARRAYS = 5_000  # on PostgreSQL: a few arrays whatever the rows, one statement a batch
GUARDS = {"=": "= %s", "<=": "<= %s", "is null": "IS NULL"}


def update_rows(
    model: type[Model],
    assign: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    match: Sequence[str] = (),
    same: Mapping[str, Any] | None = None,
    guard: Sequence[tuple[str, str, Any]] = (),
) -> int:
    """For each ``(id, *matched, *values)`` of ``rows``: where the row's fields ``match`` still
    equal ``matched`` and every ``(field, op, value)`` of ``guard`` holds (``op``: ``=``,
    ``<=``, ``is null``), set the fields ``assign`` to ``values`` (adapted for the database)
    and the fields of ``same`` to one value for all. Returns how many rows changed,
    ``ROWS_PER_STATEMENT`` rows per statement (``ROWS_PER_ARRAYS`` on PostgreSQL)."""
    same = same or {}
    names = ["id", *match, *assign, *same, *(name for name, _op, _v in guard)]
    table, quoted = columns(model, *names)
    keys, rest = quoted[: 1 + len(match)], quoted[1 + len(match) :]
    targets, constants, guarded = (
        rest[: len(assign)],
        rest[len(assign) : len(assign) + len(same)],
        rest[len(assign) + len(same) :],
    )
    sets = [f"{column} = v.column{i + len(keys) + 1}" for i, column in enumerate(targets)]
    sets += [f"{column} = %s" for column in constants]
    wheres = [f"{table}.{column} = v.column{i + 1}" for i, column in enumerate(keys)]
    wheres += [f"{table}.{c} {GUARDS[op]}" for c, (_n, op, _v) in zip(guarded, guard, strict=True)]
    guard_params = [value for _name, op, value in guard if op != "is null"]
    head = f"UPDATE {table} SET {', '.join(sets)} FROM "
    tail = f" WHERE {' AND '.join(wheres)}"
    changed = 0
    per_statement = ROWS_PER_ARRAYS if connection.vendor == "postgresql" else ROWS_PER_STATEMENT
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            source, params = _source(model, ["id", *match, *assign], chunk)
            cursor.execute(head + source + tail, [*same.values(), *params, *guard_params])
            changed += cursor.rowcount
    return changed


def _source(
    model: type[Model], names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> tuple[str, list[Any]]:
    """The rows as the table ``v(column1, …)``: on PostgreSQL one typed array per column
    (``unnest``): a short statement whose parsing the driver caches, where a ``VALUES`` of
    thousands of placeholders is split anew every time; elsewhere a multi-row ``VALUES``."""
    if connection.vendor == "postgresql":
        fields: dict[str, Any] = {field.name: field for field in model._meta.concrete_fields}
        mark = _array_mark()
        arrays = ", ".join(f"{mark}::{fields[name].cast_db_type(connection)}[]" for name in names)
        aliases = ", ".join(f"column{i + 1}" for i in range(len(names)))
        columns_ = [list(column) for column in zip(*rows, strict=True)]
        return f"unnest({arrays}) AS v({aliases})", columns_
    marks = "(" + ", ".join(["%s"] * len(names)) + ")"
    return f"(VALUES {', '.join([marks] * len(rows))}) AS v", [v for row in rows for v in row]


def _array_mark() -> str:
    """The placeholder of an array: binary (``%b``) where the server binds the parameters,
    where psycopg dumps a moment in 0.15 us against 2.6 us as text (three of them a customer
    in an assignment's or a sweep's ``UPDATE``); as text behind a client-side binding cursor
    (``HIGHSEAS_PG_SERVER_SIDE_BINDING=0``), which has no binary parameters."""
    return "%b" if connection.settings_dict["OPTIONS"].get("server_side_binding") else "%s"
