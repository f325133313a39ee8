"""The migrations that drop single-column indexes in place (``customers.index_ops``) put back,
when reversed, what Django built: the plain index, and on PostgreSQL the pattern-ops twin of
a text column (``LIKE 'x%'`` on ``industry``); a foreign key gets no twin. The forward step
drops both again. Run inside the test's transaction, which undoes the DDL on both
databases."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

TABLE = "customers_customer"


class Editor:
    """What the migration's functions use of a schema editor, without its set-up (SQLite's
    refuses to start inside the test's transaction)."""

    connection = connection

    def quote_name(self, name: str) -> str:
        return connection.ops.quote_name(name)

    def execute(self, sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)


def _operation() -> object:
    module = importlib.import_module("highseas.customers.migrations.0021_partial_fk_indexes")
    return module.Migration.operations[0].database_operations[0]


def _single_column_indexes(column: str) -> list[str]:
    """The definitions (PostgreSQL) or names (SQLite) of the indexes on ``column`` alone."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [TABLE])
            found = [row[0] for row in cursor.fetchall()]
            return sorted(d for d in found if d.endswith(f"({column})") or f"({column} " in d)
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return sorted(
        name for name, info in constraints.items() if info["index"] and info["columns"] == [column]
    )


def test_reversing_puts_back_the_plain_index_and_the_pattern_ops_twin() -> None:
    """Beside the indexes that migration adds (``customer_industry`` and the partial
    ``customer_previous_owner``), which its own reversal drops."""
    operation = _operation()
    columns = ("industry", "previous_owner_id")
    before = {c: set(_single_column_indexes(c)) for c in columns}

    operation.reverse_code(apps, Editor())  # type: ignore[attr-defined]
    industry, owner = (sorted(set(_single_column_indexes(c)) - before[c]) for c in columns)

    if connection.vendor == "postgresql":
        assert len(industry) == 2, industry
        assert sum("varchar_pattern_ops" in d for d in industry) == 1, industry
        assert len(owner) == 1 and "pattern_ops" not in owner[0], owner
    else:
        assert industry == [f"{TABLE}_industry_single"]
        assert owner == [f"{TABLE}_previous_owner_id_single"]

    operation.code(apps, Editor())  # type: ignore[attr-defined]
    # every plain one-column index on them is gone, as before the migration's AddIndex steps
    assert [_single_column_indexes(c) for c in columns] == [[], []]
