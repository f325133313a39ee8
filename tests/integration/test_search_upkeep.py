"""The search indexes' upkeep (``customers.fts``): an import's preview writes no index and
leaves every keeper in place; PostgreSQL's pinyin queue takes an insert's cores set-based and
holds the same cores as before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Max

from highseas.accounts.visibility import Viewer
from highseas.customers import fts
from highseas.customers.models import Customer
from highseas.customers.search import search
from highseas.intake.imports import commit_import
from tests.integration.test_import import preview

pytestmark = pytest.mark.django_db


def _rows(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _indexed(customer_id: int) -> bool:
    """Whether the customer's name is in the names index (PostgreSQL: the names table;
    SQLite: the trigram FTS table, looked up by its index: its content is the customers')."""
    if connection.vendor == "postgresql":
        return bool(_rows(f"SELECT 1 FROM {fts.NAMES_TABLE} WHERE rowid = %s", [customer_id]))
    name = Customer.objects.values_list("name", flat=True).get(pk=customer_id)
    table = fts.FTS_TABLE
    found = _rows(f"SELECT rowid FROM {table} WHERE {table} MATCH %s", [f'"{name}"'])
    return (customer_id,) in found


def _queued(core: str) -> bool:
    return bool(_rows(f"SELECT 1 FROM {fts.PINYIN_TABLE} WHERE core = %s", [core]))


def test_a_customer_written_with_the_upkeep_off_is_not_indexed_and_not_kept(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    seen: dict[str, bool] = {}
    with transaction.atomic(), fts.search_upkeep_off(connection):
        customer = make_customer(org["admin"], pool=org["east_pool"], name="暂存物流有限公司")
        seen = {"indexed": _indexed(customer.pk), "queued": _queued(customer.name_key)}
    assert seen == {"indexed": False, "queued": False}
    assert not Customer.objects.filter(pk=customer.pk).exists()  # rolled back unasked


def test_the_upkeep_is_on_again_after_the_block_in_the_same_outer_transaction(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    with transaction.atomic():  # the preview's block is a savepoint of this transaction
        with transaction.atomic(), fts.search_upkeep_off(connection):
            make_customer(org["admin"], pool=org["east_pool"], name="一闪而过贸易")
        after = make_customer(org["admin"], pool=org["east_pool"], name="长久经营贸易")
        assert _indexed(after.pk) and _queued(after.name_key)
    assert after.pk in {row["id"] for row in search("长久经营", limit=10).rows}


@pytest.mark.django_db(transaction=True)
def test_the_upkeep_is_never_suspended_outside_a_transaction() -> None:
    with pytest.raises(RuntimeError), fts.search_upkeep_off(connection):
        pass


def test_a_preview_leaves_every_keeper_in_place(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    job = preview(org["admin"], org["east_pool"])
    assert job.planned["create"] >= 10 and not Customer.objects.exists()
    if connection.vendor == "sqlite":
        assert fts.sqlite_index_is_complete(connection)
    customer = make_customer(org["admin"], pool=org["east_pool"], name="预览之后实业有限公司")
    assert _indexed(customer.pk) and _queued(customer.name_key)


def test_a_preview_indexes_none_of_its_rows(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preview's customers, looked at inside its transaction just before the rollback."""
    seen: list[tuple[bool, bool]] = []
    rollback = transaction.set_rollback

    def looked_at(value: bool, using: str | None = None) -> None:
        if value and not seen:
            written = list(Customer.objects.values_list("pk", "name_key"))
            seen.extend((_indexed(pk), _queued(core)) for pk, core in written)
        rollback(value, using=using)

    monkeypatch.setattr(transaction, "set_rollback", looked_at)
    preview(org["admin"], org["east_pool"])
    assert len(seen) >= 10 and set(seen) == {(False, False)}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pinyin queue")
def test_the_queue_holds_every_new_core_of_a_many_row_insert_and_of_a_rename(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    # The queue is no model's table: a test earlier in the run that committed may have left
    # cores in it. Emptied here, inside this test's rolled-back transaction, and only the
    # customers this import wrote are counted.
    _rows(f"DELETE FROM {fts.PINYIN_TABLE} RETURNING core")
    mark = Customer.objects.aggregate(last=Max("pk"))["last"] or 0
    job = commit_import(Viewer(org["admin"]), preview(org["admin"], org["east_pool"]).pk)
    cores = set(Customer.objects.filter(pk__gt=mark).values_list("name_key", flat=True))
    assert len(cores) >= 10 and job.status == "done"
    queued = {row[0] for row in _rows(f"SELECT core FROM {fts.PINYIN_TABLE}")}
    assert queued == cores
    renamed = Customer.objects.exclude(name_key=None).first()
    assert renamed is not None
    Customer.objects.filter(pk=renamed.pk).update(name_key="改名之后")
    assert _queued("改名之后")
