"""Writers that hold reps of their own and then route in the same transaction take what the
routing run locks first (``runs.lock_routing``): the rules' round-robin pointers, then every
rep the rules reach with their own in id order, then customers — the order every router takes.
An import batch naming owners once locked its owners (and the rules' reps) before the
pointers, and a handover to the rules locked the departing rep and its customers before them:
a registration routed meanwhile (pointers, then its receiver) would wait on either in a
cycle. An unmerge, which gives the absorbed customer back to its owner, locks that rep before
the two customers. Duplicate keys (advisory locks) come before all of these: a create locks its
keys, then its owner, and an import batch naming owners locks all its rows' keys first. A rep
registering at their cap lets go of their own lock before the rules route the newcomer. On
SQLite the write transaction excludes every other writer and nothing is locked."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.intake.imports import commit_import, preview_import
from highseas.intake.models import ImportJob
from highseas.intake.registration import register_customer
from highseas.pools.merge import merge
from highseas.pools.models import ClaimPolicy, Pool
from highseas.pools.unmerge import unmerge
from highseas.routing.handover import handover
from highseas.routing.models import AssignmentRule

pytestmark = pytest.mark.django_db

KEYS = "pg_advisory_xact_lock"  # the duplicate keys (``customers.duplicates.lock_keys_many``)
POINTERS = '"routing_routingcursor"'
PROFILES = '"accounts_repprofile"'
CUSTOMERS = '"customers_customer"'


def _locks(sql: list[str]) -> list[str]:
    """The tables of the row-locking statements and the customer writes, in the order sent."""
    order = []
    for statement in sql:
        if statement.startswith("SAVEPOINT") or statement.startswith("RELEASE"):
            continue
        if KEYS in statement:
            order.append(KEYS)
            continue
        locking = "FOR UPDATE" in statement
        writing = statement.startswith(("UPDATE", "INSERT", "WITH")) and CUSTOMERS in statement
        for table in (POINTERS, PROFILES, CUSTOMERS):
            if (locking and f"FROM {table}" in statement) or (writing and table == CUSTOMERS):
                order.append(table)
                break
    return order


def _first(order: list[str], table: str) -> int:
    return order.index(table) if table in order else len(order)


def _assert_routers_order(order: list[str]) -> None:
    """Pointers first, then profiles, then customers (where the database has row locks)."""
    if not connection.features.has_select_for_update:
        assert POINTERS not in order and PROFILES not in order, order
        return
    order = [table for table in order if table != KEYS]
    assert order[0] == POINTERS, order
    assert _first(order, POINTERS) < _first(order, PROFILES) < _first(order, CUSTOMERS), order


def _team_rule(org: dict[str, Any]) -> None:
    AssignmentRule.objects.create(
        name="华东", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )


def _committed(org: dict[str, Any], content: str, **options: Any) -> tuple[ImportJob, list[str]]:
    """The file previewed and committed by the admin into the east pool, and the statements
    the commit sent."""
    job = preview_import(
        Viewer(org["admin"]),
        content=content.encode(),
        pool_id=org["east_pool"].pk,
        file_name="a.csv",
        **options,
    )
    with CaptureQueriesContext(connection) as captured:
        done = commit_import(Viewer(org["admin"]), job.pk)
    return done, [q["sql"] for q in captured.captured_queries]


def test_an_import_naming_an_owner_locks_the_pointers_before_any_rep(org: dict[str, Any]) -> None:
    _team_rule(org)
    done, sql = _committed(
        org,
        "客户名称,电话,邮箱,负责人\n远航科技有限公司,13800138000,,rep_b\n星河贸易有限公司,13900139000,,\n",
    )
    order = _locks(sql)
    assert done.rows.get(line=2).owner == org["rep_b"]
    assert done.rows.get(line=3).owner is not None  # routed by the rule
    _assert_routers_order(order)


def test_an_import_naming_owners_locks_every_row_s_keys_first_in_one_statement(
    org: dict[str, Any],
) -> None:
    """A create locks its keys, then its owner. A batch naming owners locked its owners, then
    each row's keys as it wrote the row: it now locks all its rows' keys before anything."""
    _team_rule(org)
    done, sql = _committed(
        org,
        "客户名称,电话,邮箱,负责人\n远航科技有限公司,13800138000,,rep_b\n"
        "星河贸易有限公司,13900139000,,\n蓝海物流有限公司,13700137000,,rep_b\n",
    )
    assert done.rows.filter(customer__isnull=False).count() == 3
    order = _locks(sql)
    _assert_routers_order(order)
    if connection.vendor != "postgresql":
        assert KEYS not in order
        return
    assert order[0] == KEYS, order
    first = next(statement for statement in sql if KEYS in statement)
    locked = first.split("{")[1].split("}")[0].split(",")
    assert len(set(locked)) == 6  # each row's phone and name, the owners' rows' too


def test_an_import_merging_into_customers_locks_the_pointers_before_them(
    org: dict[str, Any], make_customer: Any
) -> None:
    """A committed batch merging rows locks each existing customer as it merges the row; its
    routing run then locked the pointers, while a rule run holding them may wait on one of
    those customers. It now takes the routing's locks first."""
    existing = make_customer(org["rep_a"], pool=org["east_pool"], phone="13800138000")
    _team_rule(org)
    done, sql = _committed(
        org,
        "客户名称,电话,所属行业\n远航科技有限公司,13800138000,物流\n星河贸易有限公司,13900139000,\n",
        on_duplicate="merge",
    )
    assert done.rows.get(line=2).customer_id == existing.pk
    assert Customer.objects.get(pk=existing.pk).industry == "物流"
    _assert_routers_order(_locks(sql))


def test_a_rep_at_cap_lets_go_of_their_own_lock_before_the_rules_route_the_newcomer(
    org: dict[str, Any], make_customer: Any
) -> None:
    """A rep registering at their cap: the newcomer goes to the pool and the rules route it.
    The rep's profile, locked for the cap check, was still held when the routing took the
    pointers; it is now locked in a savepoint rolled back when the cap refuses."""
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=1)
    pool = Pool.objects.get(pk=org["east_pool"].pk)  # the fixture's caches the old policy
    make_customer(org["rep_a"], owner=org["rep_a"], pool=pool)
    _team_rule(org)
    with CaptureQueriesContext(connection) as captured:
        register_customer(Viewer(org["rep_a"]), {"name": "远航科技有限公司"}, pool=pool)
    routed = Customer.objects.get(name="远航科技有限公司")
    assert routed.owner not in (None, org["rep_a"])  # routed to a colleague
    sql = [q["sql"] for q in captured.captured_queries]
    if not connection.features.has_select_for_update:
        assert PROFILES not in _locks(sql) and POINTERS not in _locks(sql)
        return
    cap_check = next(i for i, s in enumerate(sql) if "FOR UPDATE" in s and PROFILES in s)
    pointers = next(i for i, s in enumerate(sql) if "FOR UPDATE" in s and POINTERS in s)
    assert cap_check < pointers
    let_go = [s for s in sql[cap_check:pointers] if s.startswith("ROLLBACK TO SAVEPOINT")]
    assert let_go, sql[cap_check:pointers]
    _assert_routers_order(_locks(sql[pointers:]))


def test_a_handover_to_the_rules_locks_the_pointers_before_the_departing_rep(
    org: dict[str, Any], make_customer: Any
) -> None:
    for _ in range(3):
        make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 3
    _team_rule(org)  # after: a rule routes what is registered after it
    with CaptureQueriesContext(connection) as captured:
        report = handover(Viewer(org["admin"]), org["rep_a"].pk, to="rules", dry_run=False)
    order = _locks([q["sql"] for q in captured.captured_queries])
    assert len(report.moved) == 3 and not report.problems
    _assert_routers_order(order)


def test_an_unmerge_locks_the_former_owner_before_the_customers(
    org: dict[str, Any], make_customer: Any
) -> None:
    """Undoing a merge gives the absorbed customer back to its owner: that rep's profile is
    locked before the pair of customers (it was locked after them, while a transfer or freeze
    of the survivor holds the rep and waits on the customer)."""
    rep_a, rep_b = org["rep_a"], org["rep_b"]
    survivor = make_customer(rep_a, owner=rep_a, pool=org["east_pool"])
    other = make_customer(rep_b, owner=rep_b, pool=org["east_pool"])
    merge(org["east_manager"], survivor.pk, other.pk)
    with CaptureQueriesContext(connection) as captured:
        unmerge(org["east_manager"], survivor.pk)
    order = _locks([q["sql"] for q in captured.captured_queries])
    other.refresh_from_db()
    assert (other.status, other.owner_id, other.merged_into_id) == ("owned", rep_b.pk, None)
    if not connection.features.has_select_for_update:
        assert PROFILES not in order
        return
    assert order[0] == PROFILES, order
    assert _first(order, PROFILES) < _first(order, CUSTOMERS), order
