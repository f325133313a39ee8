"""PostgreSQL keeps the names' two GIN indexes (trigram, character pairs) on a names table of
their own, kept by triggers, so an ownership change never writes them; search reads them
there and finds what it found before, renamed, deleted and bulk-written customers included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from highseas.customers import fts, search
from highseas.customers.matching import NameQuery, Tier, source_ids_sql
from highseas.customers.models import Customer
from highseas.pools import editing, ownership

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's names table"
)


def _rows(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


def _gin_indexes(table: str) -> set[str]:
    found = _rows(
        "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
        [table, "%USING gin%"],
    )
    return {name for (name,) in found}


def _names_row(customer_id: int) -> tuple[Any, ...] | None:
    found = _rows(f"SELECT name, xmin::text FROM {fts.NAMES_TABLE} WHERE rowid = %s", [customer_id])
    return found[0] if found else None


def _found(text: str) -> set[int]:
    return {row["id"] for row in search.search(text, limit=50).rows}


@postgresql_only
def test_no_gin_index_is_left_on_the_customers_table() -> None:
    assert _gin_indexes(fts.TABLE) == set()
    assert _gin_indexes(fts.NAMES_TABLE) == {fts.TRGM_INDEX, fts.GRAMS_INDEX}


@postgresql_only
def test_an_ownership_change_leaves_the_names_row_untouched(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"], name="杭州青鸟科技有限公司")
    before = _names_row(customer.pk)
    assert before is not None and before[0] == "杭州青鸟科技有限公司"
    ownership.claim(org["rep_a"], customer.pk)
    ownership.release(org["rep_a"], customer.pk, reason="not a fit")
    assert _names_row(customer.pk) == before  # same row version (xmin): never rewritten


@postgresql_only
def test_the_names_table_follows_inserts_renames_and_truncates(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], owner=org["rep_a"], name="宁波海岸贸易有限公司")
    editing.edit_customer(org["rep_a"], customer.pk, {"name": "宁波远帆贸易有限公司"})
    assert _names_row(customer.pk)[0] == "宁波远帆贸易有限公司"  # type: ignore[index]
    other = make_customer(org["admin"], pool=org["east_pool"])
    assert _names_row(other.pk) is not None
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks left pending
        cursor.execute(f"TRUNCATE {fts.TABLE} CASCADE")
    assert _rows(f"SELECT count(*) FROM {fts.NAMES_TABLE}") == [(0,)]


@postgresql_only
def test_a_statement_inserting_or_deleting_many_customers_keeps_every_name(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    model = make_customer(org["admin"], pool=org["east_pool"], name="温州模板鞋业有限公司")
    columns = [f.column for f in Customer._meta.concrete_fields if f.column not in {"id", "name"}]
    listed = ", ".join(columns)
    added = _rows(
        f"INSERT INTO {fts.TABLE} (name, {listed}) "
        f"SELECT '温州批量鞋业' || i || '号有限公司', {listed} "
        f"FROM {fts.TABLE}, generate_series(1, 3) AS i WHERE id = %s RETURNING id",
        [model.pk],
    )
    assert len(added) == 3
    for (customer_id,) in added:
        assert _names_row(customer_id)[0].startswith("温州批量鞋业")  # type: ignore[index]
    assert {customer_id for (customer_id,) in added} <= _found("批量鞋业")
    gone = [added[0][0], added[2][0]]  # no ledger rows to protect them
    _rows(f"DELETE FROM {fts.TABLE} WHERE id = ANY(%s) RETURNING id", [gone])
    assert [_names_row(customer_id) is None for (customer_id,) in added] == [True, False, True]


def test_search_finds_a_renamed_customer_by_its_new_name_only(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"], name="苏州枫桥丝绸有限公司")
    assert customer.pk in _found("枫桥丝绸") and customer.pk in _found("枫桥")
    editing.edit_customer(org["admin"], customer.pk, {"name": "苏州寒山丝绸有限公司"})
    assert customer.pk in _found("寒山丝绸")  # trigram index
    assert customer.pk in _found("寒山")  # character pairs
    assert customer.pk not in _found("枫桥丝绸") | _found("枫桥")


@postgresql_only
@pytest.mark.parametrize(
    ("text", "index"), [("南湖纺织", fts.TRGM_INDEX), ("纺织", fts.GRAMS_INDEX)]
)
def test_the_contains_sources_read_the_names_tables_indexes(text: str, index: str) -> None:
    (source,) = NameQuery.of(text).sources(Tier.CONTAINS)
    ids = source_ids_sql(source)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {ids.sql}", ids.params)
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert index in plan and fts.NAMES_TABLE in plan


@postgresql_only
def test_the_migration_moves_the_indexes_back_and_forth(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"], name="嘉兴南湖纺织有限公司")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as in a migration: none pending
    fts.postgresql_names_on_customers(connection)  # 0019 backwards
    assert _gin_indexes(fts.TABLE) == {fts.TRGM_INDEX, fts.GRAMS_INDEX}
    assert not _rows("SELECT 1 FROM pg_class WHERE relname = %s", [fts.NAMES_TABLE])
    fts.create_search_index(connection)  # 0019 forwards
    assert _gin_indexes(fts.TABLE) == set()
    assert _gin_indexes(fts.NAMES_TABLE) == {fts.TRGM_INDEX, fts.GRAMS_INDEX}
    assert _names_row(customer.pk)[0] == "嘉兴南湖纺织有限公司"  # type: ignore[index]
    assert customer.pk in _found("南湖纺织") and customer.pk in _found("南湖")
