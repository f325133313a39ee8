"""Migration operations on indexes that Django's own would do by rebuilding a table on SQLite."""

from __future__ import annotations

from typing import Any

from django.db import migrations

_PATTERN_OPS = {"character varying": "varchar_pattern_ops", "text": "text_pattern_ops"}


def drop_single_column_indexes(table: str, columns: tuple[str, ...]) -> migrations.RunPython:
    """Drop the plain (non-unique) one-column indexes on ``columns`` of ``table``, found by
    introspection so the name each backend gave them does not matter. Paired with a state-only
    ``AlterField(db_index=False)``: Django's ``AlterField`` copies the whole table on SQLite
    (and drops its triggers) to lose one index. Reversing recreates them, with the pattern-ops
    twin Django builds beside an indexed text column on PostgreSQL."""

    def forward(apps: Any, schema_editor: Any) -> None:
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            found = connection.introspection.get_constraints(cursor, table)
        quote = schema_editor.quote_name
        for name, info in found.items():
            if (
                info["index"]
                and not info["unique"]
                and not info["primary_key"]
                and len(info["columns"]) == 1
                and info["columns"][0] in columns
            ):
                schema_editor.execute(f"DROP INDEX {quote(name)}")

    def backward(apps: Any, schema_editor: Any) -> None:
        quote = schema_editor.quote_name
        for column in columns:
            schema_editor.execute(
                f"CREATE INDEX {quote(f'{table}_{column}_single')} "
                f"ON {quote(table)} ({quote(column)})"
            )
        for column, opclass in _pattern_ops(schema_editor.connection, table, columns).items():
            # the twin Django builds beside an indexed text column on PostgreSQL (``LIKE 'x%'``)
            schema_editor.execute(
                f"CREATE INDEX {quote(f'{table}_{column}_single_like')} "
                f"ON {quote(table)} ({quote(column)} {opclass})"
            )

    return migrations.RunPython(forward, backward)


def _pattern_ops(connection: Any, table: str, columns: tuple[str, ...]) -> dict[str, str]:
    """The operator class of the pattern-ops index of each text column among ``columns`` of
    ``table``, on PostgreSQL (none elsewhere)."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            [table],
        )
        types = dict(cursor.fetchall())
    return {c: _PATTERN_OPS[types[c]] for c in columns if types.get(c) in _PATTERN_OPS}
