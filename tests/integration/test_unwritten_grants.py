"""Grants to customers built but not inserted yet (``bulk_assign.Unwritten``): set owned in
memory and written by their insert, while every row that exists keeps its compare-and-set;
their ledger rows' foreign keys wait for the commit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode
from highseas.pools import reasons
from highseas.pools.authority import RuleAuthority
from highseas.pools.bulk_assign import Grant, Unwritten, assign_many
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.reasons import Reason
from highseas.pools.rows import reserve_ids
from highseas.routing import runs
from highseas.routing.models import AssignmentRule

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def _built(actor: User, pool: Pool, count: int) -> list[Customer]:
    customers = [
        Customer(
            name=f"未写入{i}号有限公司",
            pool=pool,
            status=CustomerStatus.POOLED,
            created_by=actor,
            created_at=NOW,
        )
        for i in range(count)
    ]
    reserve_ids(customers)
    return customers


def _grant(customer_id: int, pool: Pool, rep: User) -> Grant:
    authority = RuleAuthority(1, "全部", pool.pk, frozenset({rep.pk}))
    return Grant(authority, customer_id, rep.pk, Reason(reasons.RULE_ASSIGNED, {"rule": "全部"}))


def test_a_granted_row_that_exists_keeps_its_compare_and_set(
    org: dict[str, Any], make_customer: Any
) -> None:
    """Handed in as pooled beside unwritten rows, a customer that was taken meanwhile is
    refused (the compare-and-set finds it owned) and keeps its owner; the unwritten ones are
    granted in memory, and written owned by their insert."""
    pool = org["east_pool"]
    taken = make_customer(org["admin"], pool=pool)
    taken_row = {
        c: getattr(taken, c) for c in ("id", "name", "pool_id", "owner_id", "merged_into_id")
    }
    taken_row |= {"status": CustomerStatus.POOLED.value, "level": taken.level, "stage": taken.stage}
    taken_row |= {"last_effective_activity_at": None, "last_activity_at": None}
    Customer.objects.filter(pk=taken.pk).update(
        owner=org["rep_a"], status=CustomerStatus.OWNED, owned_since=NOW
    )
    built = _built(org["admin"], pool, 3)
    unwritten = Unwritten(built)
    locked = {taken.pk: taken_row} | {c.pk: unwritten.row(c.pk) for c in built}
    grants = [_grant(c.pk, pool, org["rep_b"]) for c in [taken, *built]]
    granted = assign_many(grants, now=NOW, locked=locked, unwritten=unwritten)
    assert [g.customer_id for g in granted] == [c.pk for c in built]
    assert grants[0].refusal is not None
    assert grants[0].refusal.code is ErrorCode.ALREADY_OWNED
    taken.refresh_from_db()
    assert (taken.owner_id, taken.status) == (org["rep_a"].pk, CustomerStatus.OWNED)
    assert not OwnershipEvent.objects.filter(customer=taken, kind="assigned").exists()
    assert not Customer.objects.filter(pk__in=[c.pk for c in built]).exists()
    unwritten.insert()
    rows = Customer.objects.filter(pk__in=[c.pk for c in built])
    assert set(rows.values_list("owner_id", "status")) == {(org["rep_b"].pk, "owned")}
    assert OwnershipEvent.objects.filter(customer__in=rows, kind="assigned").count() == 3


def test_unwritten_customers_carry_reserved_ids(org: dict[str, Any]) -> None:
    customer = Customer(name="无号有限公司", pool=org["east_pool"], created_by=org["admin"])
    with pytest.raises(ValueError):
        Unwritten([customer])
    first, second = _built(org["admin"], org["east_pool"], 2)
    assert second.pk == first.pk + 1
    assert first.pk > max(Customer.objects.values_list("pk", flat=True), default=0)


def test_a_small_run_is_not_given_unwritten_rows(org: dict[str, Any]) -> None:
    """The one-by-one path writes each grant by its own statements: it never takes them."""
    AssignmentRule.objects.create(
        name="全部", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    built = _built(org["admin"], org["east_pool"], 2)
    options = runs.RunOptions(
        dry_run=False,
        now=NOW,
        seed=1,
        customer_ids=[c.pk for c in built],
        unwritten=Unwritten(built),
    )
    with pytest.raises(ValueError):
        runs.Runner(org["admin"], options).execute()


def test_the_rows_written_before_their_customer_wait_for_the_commit() -> None:
    """The ledger's and the notifications' foreign keys to the customer are checked at commit
    (``DEFERRABLE INITIALLY DEFERRED``), on both databases; the decision log has no constraint
    in the database (``highseas check`` looks for a decision naming a row that is gone)."""
    tables = ["pools_ownershipevent", "notify_notification"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid = %s::regclass",
                ["routing_assignmentdecision"],
            )
            assert cursor.fetchone() == (0,)
        else:
            cursor.execute("PRAGMA foreign_key_list(routing_assignmentdecision)")
            assert cursor.fetchall() == []
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT condeferrable, condeferred FROM pg_constraint WHERE contype = 'f' "
                    "AND conrelid = %s::regclass AND confrelid = %s::regclass",
                    [table, Customer._meta.db_table],
                )
                found = cursor.fetchall()
                assert found and set(found) == {(True, True)}, table
            else:
                cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [table])
                (sql,) = cursor.fetchone()
                found = [
                    part
                    for part in sql.split(",")
                    if f'REFERENCES "{Customer._meta.db_table}"' in part
                ]
                assert found and all("DEFERRABLE INITIALLY DEFERRED" in p for p in found), table
