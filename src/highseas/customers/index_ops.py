"""Migration operations on indexes that Django's own would do by rebuilding a table on SQLite."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def drop_single_column_indexes(table: str, columns: tuple[str, ...]) -> migrations.RunPython:
    """Drop the plain (non-unique) one-column indexes on ``columns`` of ``table``, found by
    introspection so the name each backend gave them does not matter. Paired with a state-only
    ``AlterField(db_index=False)``: Django's ``AlterField`` copies the whole table on SQLite
    (and drops its triggers) to lose one index. Reversing recreates them."""

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

    return migrations.RunPython(forward, backward)
