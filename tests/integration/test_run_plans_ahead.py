"""A backlog run on PostgreSQL plans each next page in a thread of its own while the server
writes the batch before it (``routing.runs.Runner._ahead_planner``), and takes that plan only
if the next batch locks what the plan was made from: the run decides what the preview
shows, and a row written in between is planned again from what the batch locked."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.db.models import QuerySet
from django.utils import timezone

from highseas.bench.dataset import insert_customers
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.pools.invariants import run_checks
from highseas.pools.models import ClaimPolicy, OwnershipEvent, Pool
from highseas.routing import runs
from highseas.routing.models import AssignmentRule

pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG, BATCH = 1_000, 150  # the pacer's sizes: 150 a batch (under its first 250)


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer and one interpreter: nothing to overlap")


@pytest.fixture
def pool(org: dict[str, Any]) -> Pool:
    pool = org["east_pool"]
    # a cap that fills some reps mid-run, so the plan ahead carries loads that decide
    ClaimPolicy.objects.filter(pool=pool).update(
        daily_quota=None, weekly_quota=None, holding_cap=300
    )
    insert_customers(pool, org["admin"], BACKLOG)
    AssignmentRule.objects.create(
        name="东区最少者先",
        position=1,
        conditions={},
        target={"team": org["east"].pk, "strategy": "least_loaded"},
    )
    return pool


def _runner(org: dict[str, Any], pool: Pool, *, dry_run: bool, now: Any) -> runs.Runner:
    options = runs.RunOptions(
        dry_run=dry_run,
        now=now,
        seed=11,
        pool=pool,
        batch_size=BATCH,
        apply_mode=None if dry_run else runs.ApplyMode.BULK,
    )
    return runs.Runner(org["admin"], options)


def _elsewhere(customers: QuerySet[Customer], **changes: Any) -> None:
    """``customers`` updated and committed by another connection (behind the services'
    back), while the run's batch holds its locks."""

    def update() -> None:
        try:
            customers.update(**changes)
        finally:
            connections.close_all()

    writer = threading.Thread(target=update)
    writer.start()
    writer.join()


def _decided(result: runs.RunResult) -> list[tuple[Any, ...]]:
    return [
        (d.customer_id, d.rule_id, d.owner_id, d.outcome, d.reason, d.explanation)
        for d in result.decisions
    ]


def test_a_run_that_plans_ahead_decides_what_the_preview_shows(
    org: dict[str, Any], pool: Pool
) -> None:
    now = timezone.now()
    preview = _runner(org, pool, dry_run=True, now=now).execute()
    runner = _runner(org, pool, dry_run=False, now=now)
    real = runner.execute()

    assert real.run.batches == -(-BACKLOG // BATCH)
    assert runner.planned_ahead == real.run.batches - 1  # every batch after the first
    assert _decided(real) == _decided(preview)
    assert real.run.unassigned > 0  # the cap filled reps: the loads carried decided
    assert run_checks().ok


def test_a_row_written_after_its_page_was_planned_is_planned_again_as_locked(
    org: dict[str, Any], pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second page is planned ahead, then one of its customers moves to another pool
    (committed by another connection, behind the services' back) before the second batch
    locks it: the batch reads it gone, plans what it locked, and the moved customer is
    neither decided nor given."""
    plan_page, moved = runs.Runner._plan_page, []

    def then_move_one(self: runs.Runner, *args: Any) -> runs.Ahead | None:
        ahead = plan_page(self, *args)
        if not moved and ahead is not None:
            customer_id = ahead.rows[len(ahead.rows) // 2]["id"]
            moved.append(customer_id)
            assert customer_id in {d.customer_id for d in ahead.decisions}
            _elsewhere(Customer.objects.filter(pk=customer_id), pool=org["south_pool"])
        return ahead

    monkeypatch.setattr(runs.Runner, "_plan_page", then_move_one)
    runner = _runner(org, pool, dry_run=False, now=timezone.now())
    real = runner.execute()

    assert runner.planned_ahead == real.run.batches - 2  # all but the first and the second
    assert moved[0] not in {d.customer_id for d in real.decisions}
    customer = Customer.objects.get(pk=moved[0])
    assert (customer.pool_id, customer.status, customer.owner_id) == (
        org["south_pool"].pk,
        CustomerStatus.POOLED,
        None,
    )
    assert real.run.considered == BACKLOG - 1
    assert not OwnershipEvent.objects.filter(customer_id=moved[0], kind="assigned").exists()


def test_without_planning_ahead_the_run_decides_the_same(
    org: dict[str, Any], pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = timezone.now()
    preview = _runner(org, pool, dry_run=True, now=now).execute()
    monkeypatch.setattr(runs, "PLANS_AHEAD", False)
    runner = _runner(org, pool, dry_run=False, now=now)
    real = runner.execute()
    assert runner.planned_ahead == 0
    assert _decided(real) == _decided(preview)


def test_loads_moved_by_another_writer_after_the_plan_ahead_are_planned_again(
    org: dict[str, Any],
    pool: Pool,
    make_customer: Callable[..., Customer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the second page is planned ahead, a rep of the rule's team comes to hold one
    more customer (of another pool, written by another connection): the second batch counts
    that rep's holdings under its locks, finds them other than the plan carried, and plans
    again from what it counted."""
    elsewhere = make_customer(org["admin"], pool=org["south_pool"])
    plan_page, given = runs.Runner._plan_page, []

    def then_give_one(self: runs.Runner, *args: Any) -> runs.Ahead | None:
        ahead = plan_page(self, *args)
        if not given and ahead is not None:
            # registered after the rule, it may already be a rep's: give it to another
            held_by = Customer.objects.get(pk=elsewhere.pk).owner_id
            team = ahead.roster.by_team[org["east"].pk]
            rep_id = next(c.rep_id for c in team if c.rep_id != held_by)
            given.append(rep_id)
            _elsewhere(
                Customer.objects.filter(pk=elsewhere.pk),
                owner_id=rep_id,
                status=CustomerStatus.OWNED,
            )
        return ahead

    monkeypatch.setattr(runs.Runner, "_plan_page", then_give_one)
    runner = _runner(org, pool, dry_run=False, now=timezone.now())
    real = runner.execute()

    assert given
    assert runner.planned_ahead == real.run.batches - 2  # the second batch planned again
    assert real.run.considered == BACKLOG
