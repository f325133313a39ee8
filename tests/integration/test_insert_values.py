"""``rows.insert_values``: rows as multi-row ``INSERT`` statements, in order, within the
values one statement takes; and the customers written that way (the bench's dataset) keep a
whole search index, which SQLite's triggers write row by row."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from highseas.bench.dataset import insert_customers
from highseas.customers.fts import FTS_TABLE, GRAMS_TABLE
from highseas.customers.models import Customer
from highseas.pools import rows

pytestmark = pytest.mark.django_db


def _noting(sent: list[tuple[str, Any]]) -> Any:
    """An execute wrapper noting each statement sent and its values."""

    def noted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    return noted


def test_rows_go_in_order_a_few_a_statement_within_the_values_one_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rows, "PARAMETERS_PER_STATEMENT", 5)  # two rows of two values
    sent: list[tuple[str, Any]] = []
    values = [(n, f"第{n}行") for n in range(7)]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE values_probe (n integer, label text, kind text)")
        with connection.execute_wrapper(_noting(sent)):
            rows.insert_values(
                cursor, "INSERT INTO values_probe (n, label, kind) VALUES ", "(%s, %s, 'x')", values
            )
            rows.insert_values(cursor, "INSERT INTO values_probe (n) VALUES ", "(%s)", [])
        cursor.execute("SELECT n, label, kind FROM values_probe ORDER BY n")
        found = cursor.fetchall()
    assert [sql.count("(%s, %s, 'x')") for sql, _params in sent] == [2, 2, 2, 1]
    assert found == [(n, label, "x") for n, label in values]


def test_a_statement_takes_up_to_a_thousand_rows_and_the_rest_goes_in_a_few_sizes() -> None:
    sent: list[tuple[str, Any]] = []
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE values_probe (n integer)")
        with connection.execute_wrapper(_noting(sent)):
            rows.insert_values(
                cursor, "INSERT INTO values_probe (n) VALUES ", "(%s)", [(n,) for n in range(2_500)]
            )
        cursor.execute("SELECT count(*), sum(n) FROM values_probe")
        assert cursor.fetchone() == (2_500, sum(range(2_500)))
    # the rest in powers of two
    assert [len(params) for _sql, params in sent] == [1_000, 1_000, 256, 128, 64, 32, 16, 4]


def test_a_row_of_another_length_is_refused() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE values_probe (n integer, m integer)")
        with pytest.raises(ValueError):
            rows.insert_values(
                cursor, "INSERT INTO values_probe (n, m) VALUES ", "(%s, %s)", [(1,), (2, 3, 4)]
            )


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_customers_written_many_a_statement_are_all_in_the_search_index(
    org: dict[str, Any],
) -> None:
    """The bench's dataset goes in many customers a statement: each one's name is in the
    full-text index and its bigrams, which FTS5's own check confirms."""
    insert_customers(org["east_pool"], org["admin"], 1_200)
    customers = Customer.objects.filter(pool=org["east_pool"])
    assert customers.count() == 1_200
    with connection.cursor() as cursor:
        for table in (FTS_TABLE, GRAMS_TABLE):
            cursor.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
        cursor.execute(f"SELECT count(*) FROM {FTS_TABLE}")
        assert cursor.fetchone()[0] >= 1_200
        last = customers.order_by("-pk").first()
        assert last is not None
        cursor.execute(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [f'"{last.name}"']
        )
        assert last.pk in {row[0] for row in cursor.fetchall()}
