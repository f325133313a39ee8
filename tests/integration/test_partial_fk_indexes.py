"""Foreign keys that are mostly empty are indexed only where they hold a value (the customer's
previous owner, the ledger's source pool, actor and related customer, an import row's
duplicate), an import row's job is served by the unique (job, line), and industry has no
pattern-ops twin on PostgreSQL: fewer index writes per imported customer, per ownership change
and per ledger row. The look-ups by value, the foreign keys' own checks included, still read
an index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

PARTIAL = {
    "customer_previous_owner": ("customers_customer", "previous_owner_id"),
    "ledger_from_pool": ("pools_ownershipevent", "from_pool_id"),
    "ledger_actor": ("pools_ownershipevent", "actor_id"),
    "ledger_related_customer": ("pools_ownershipevent", "related_customer_id"),
    "import_row_duplicate_of": ("intake_importrow", "duplicate_of_id"),
}
SERVED_BY_A_COMPOSITE = {"intake_importrow": ("job_id", "import_row_once_per_line")}


def index_columns(table: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {
        name: info["columns"]
        for name, info in found.items()
        if info["index"] and not info["primary_key"]
    }


def index_sql(name: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        else:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [name]
            )
        row = cursor.fetchone()
    assert row is not None, name
    return " ".join(str(row[0]).replace('"', "").replace("(", "").replace(")", "").split())


@pytest.mark.parametrize("name", sorted(PARTIAL))
def test_a_mostly_empty_key_has_one_index_holding_only_its_values(name: str) -> None:
    table, column = PARTIAL[name]
    on_column = [n for n, columns in index_columns(table).items() if columns == [column]]
    assert on_column == [name]
    assert index_sql(name).endswith(f"WHERE {column} IS NOT NULL")


@pytest.mark.parametrize("table", sorted(SERVED_BY_A_COMPOSITE))
def test_a_key_a_unique_index_leads_with_has_no_index_of_its_own(table: str) -> None:
    column, composite = SERVED_BY_A_COMPOSITE[table]
    found = index_columns(table)
    assert [n for n, columns in found.items() if columns == [column]] == []
    with connection.cursor() as cursor:
        unique = connection.introspection.get_constraints(cursor, table)[composite]
    assert unique["unique"] and unique["columns"][0] == column


def test_industry_has_one_plain_index() -> None:
    on_industry = [n for n, c in index_columns("customers_customer").items() if c == ["industry"]]
    assert on_industry == ["customer_industry"]
    assert "pattern_ops" not in index_sql("customer_industry")


LOOKUPS = [
    ("customers_customer", "previous_owner_id", "customer_previous_owner"),
    ("customers_customer", "industry", "customer_industry"),
    ("pools_ownershipevent", "from_pool_id", "ledger_from_pool"),
    ("pools_ownershipevent", "actor_id", "ledger_actor"),
    ("pools_ownershipevent", "related_customer_id", "ledger_related_customer"),
    ("intake_importrow", "duplicate_of_id", "import_row_duplicate_of"),
    ("intake_importrow", "job_id", "import_row_once_per_line"),
]


def unique_index(table: str, columns: list[str]) -> str:
    """The unique index's name: SQLite names the one it builds for a table's UNIQUE itself."""
    if connection.vendor == "postgresql":
        return "import_row_once_per_line"
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA index_list({table})")
        for _seq, name, unique, *_rest in cursor.fetchall():
            cursor.execute(f"PRAGMA index_info({name})")
            if unique and [row[2] for row in cursor.fetchall()] == columns:
                return str(name)
    raise AssertionError(f"no unique index on {columns}")


LEDGER_SAMPLE = (
    "INSERT INTO pools_ownershipevent (customer_id, kind, from_status, from_pool_id, "
    "to_status, to_owner_id, actor_id, actor_label, reason, policy_ref, at) "
    "SELECT 1, CASE WHEN i % 3 = 0 THEN 'claimed' ELSE 'created' END, 'pooled', "
    "CASE WHEN i % 2 = 0 THEN 1 + i % 4 END, 'owned', 1 + i % 50, "
    "CASE WHEN i % 5 = 0 THEN 1 END, 'rep', 'b', '', now() - i * interval '1 minute' "
    "FROM generate_series(1, 3000) i"
)


@contextmanager
def with_a_ledger(table: str) -> Iterator[None]:
    """On PostgreSQL, a ledger of claims and creations with its statistics: the claims-by-rep
    index holds ``from_pool_id`` as a later column (pools 0015), and on an empty ledger a scan
    of all of it ties in cost with the partial index; on any ledger with rows the partial
    index is far cheaper. The rows (whose foreign keys point nowhere) are deleted before the
    test's end, where the deferred foreign keys are checked."""
    if connection.vendor != "postgresql" or table != "pools_ownershipevent":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(LEDGER_SAMPLE)
        cursor.execute("ANALYZE pools_ownershipevent")
        try:
            yield
        finally:
            cursor.execute("DELETE FROM pools_ownershipevent WHERE actor_label = 'rep'")


def plan(sql: str, params: list[object]) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.parametrize(("table", "column", "index"), LOOKUPS)
def test_a_lookup_by_value_reads_the_index(table: str, column: str, index: str) -> None:
    value = "x" if column == "industry" else 1
    if index == "import_row_once_per_line":
        index = unique_index(table, ["job_id", "line"])
    with with_a_ledger(table):
        assert index in plan(f"SELECT id FROM {table} WHERE {column} = %s", [value])
        assert index in plan(f"SELECT id FROM {table} WHERE {column} IN (%s, %s)", [value, value])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's foreign-key checks")
@pytest.mark.parametrize(("table", "column", "index"), LOOKUPS[:1] + LOOKUPS[2:])
def test_the_foreign_key_check_of_a_deleted_row_reads_the_index(
    table: str, column: str, index: str
) -> None:
    """The statement PostgreSQL runs for each deleted referenced row, planned generically as
    it is (its parameter unknown): the partial index is usable because ``$1 = column`` implies
    ``column IS NOT NULL``."""
    with with_a_ledger(table), connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"PREPARE fk_check(bigint) AS SELECT 1 FROM ONLY {table} x "
            f"WHERE $1 OPERATOR(pg_catalog.=) {column} FOR KEY SHARE OF x"
        )
        try:
            cursor.execute("EXPLAIN EXECUTE fk_check(1)")
            found = " ".join(str(row[0]) for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE fk_check")
    assert index in found
