"""Review of PostgreSQL's names table (``customers.fts``: ``customers_customer_names`` kept by
triggers): after every way a name is written — an import's commit (``COPY``), a merge that
takes the other side's name and its undo, a rolled-back rename and creation, a rename racing a
claim of the same customer on another connection — the names table holds exactly the
customers' ids and names, and search finds each customer by its name of the moment only."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from highseas.accounts.visibility import Viewer
from highseas.customers import fts, search
from highseas.customers.models import Customer
from highseas.intake.imports import commit_import
from highseas.pools import editing, ownership
from highseas.pools.merge import merge
from highseas.pools.unmerge import unmerge
from tests.integration.test_demo import CUSTOMERS, _demo, initialized  # noqa: F401
from tests.integration.test_import import preview

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's names table"),
]


def _names_differ() -> list[tuple[Any, ...]]:
    """Every id whose names row is missing, left over, or holds another name."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, n.rowid, c.name, n.name FROM {fts.TABLE} c "
            f"FULL JOIN {fts.NAMES_TABLE} n ON n.rowid = c.id "
            "WHERE c.id IS NULL OR n.rowid IS NULL OR c.name IS DISTINCT FROM n.name"
        )
        return list(cursor.fetchall())


def _found(text: str) -> set[int]:
    return {row["id"] for row in search.search(text, limit=50).rows}


def test_an_import_commit_writes_every_name(org: dict[str, Any]) -> None:
    job = preview(org["east_manager"], org["east_pool"])
    commit_import(Viewer(org["east_manager"]), job.pk)
    assert Customer.objects.count() >= 10
    assert _names_differ() == []


def test_a_merge_taking_the_other_name_and_its_undo_keep_the_names(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    survivor = make_customer(org["admin"], pool=org["east_pool"], name="星辰航运有限公司")
    other = make_customer(org["admin"], pool=org["east_pool"], name="北辰港务集团")
    merge(org["admin"], survivor.pk, other.pk, fields={"name": "other"})
    assert Customer.objects.get(pk=survivor.pk).name == "北辰港务集团"
    assert _names_differ() == []
    assert survivor.pk in _found("北辰港务") and survivor.pk not in _found("星辰航运")
    unmerge(org["admin"], survivor.pk, other.pk)
    assert Customer.objects.get(pk=survivor.pk).name == "星辰航运有限公司"
    assert _names_differ() == []
    assert survivor.pk in _found("星辰航运")


def test_a_rolled_back_creation_and_rename_leave_no_name(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    kept = make_customer(org["admin"], pool=org["east_pool"], name="长风贸易")
    with pytest.raises(RuntimeError), transaction.atomic():
        make_customer(org["admin"], pool=org["east_pool"], name="短命公司")
        Customer.objects.filter(pk=kept.pk).update(name="改名贸易")
        raise RuntimeError("rolled back")
    assert _names_differ() == []
    assert kept.pk in _found("长风贸易") and not _found("改名贸易") and not _found("短命公司")


def test_a_rename_racing_a_claim_of_the_same_customer_keeps_its_name(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """The manager renames while the rep claims, each on its own connection, the rename's
    transaction open across the claim: both land, the names row holds the new name, and the
    claim (which never writes the name) left it alone."""
    customer = make_customer(org["admin"], pool=org["east_pool"], name="旧名科技")
    claimed: dict[str, Any] = {}

    def claim() -> None:
        try:
            claimed["owner"] = ownership.claim(org["rep_a"], customer.pk).customer.owner_id
        except Exception as error:  # shown by the assertion
            claimed["error"] = error
        finally:
            connection.close()

    with transaction.atomic():
        editing.edit_customer(org["admin"], customer.pk, {"name": "新名科技"})
        thread = threading.Thread(target=claim)
        thread.start()
        thread.join(1.0)  # the claim waits for the renamed row (its compare-and-set)
    thread.join(30)
    assert claimed.get("owner") == org["rep_a"].pk, claimed
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.name, stored.owner_id) == ("新名科技", org["rep_a"].pk)
    assert _names_differ() == []
    assert customer.pk in _found("新名科技") and customer.pk not in _found("旧名科技")


@pytest.mark.usefixtures("initialized")
def test_the_demo_and_its_reset_keep_the_names_table_equal() -> None:
    """The demo writes customers by ``COPY`` in batches (with its secondary indexes as they
    are on PostgreSQL); its ``--reset`` deletes them and writes them again."""
    _demo()
    assert Customer.objects.count() == CUSTOMERS
    assert _names_differ() == []
    _demo("--reset")
    assert Customer.objects.count() == CUSTOMERS
    assert _names_differ() == []


def test_migration_0019_backwards_and_forwards_on_data_keeps_search(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """The real migration, run by ``migrate`` both ways on a database with customers (one
    renamed while the indexes are back on the customers table): search finds each by its
    new name, and the names table is rebuilt equal. (Between the two, search is the
    code of before 0019: this code reads the names table, which 0018 does not have.)"""
    from django.core.management import call_command

    kept = make_customer(org["admin"], pool=org["east_pool"], name="嘉兴南湖纺织有限公司")
    renamed = make_customer(org["admin"], pool=org["east_pool"], name="温州瓯江鞋业有限公司")
    call_command("migrate", "customers", "0018", verbosity=0)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [fts.NAMES_TABLE])
            assert cursor.fetchone()[0] is None
        # renamed meanwhile (by the code of before 0019, whose search reads the customers)
        Customer.objects.filter(pk=renamed.pk).update(name="台州椒江塑业有限公司")
    finally:
        # every app: going back unapplied the other apps' migrations that depend on these
        call_command("migrate", verbosity=0)
    assert _names_differ() == []
    # the new name is found through the names table (the old one still is through the name
    # key, which a raw UPDATE of the name alone leaves as it was)
    assert renamed.pk in _found("椒江塑业")
    assert kept.pk in _found("南湖纺织")
