"""A long job paces its batches by whether anybody waited for the last one (``config.pacing``):
small first, twice as large after a batch nobody waited for, sized to the lock budget after
one a claim waited for (on SQLite the write gate tells; on PostgreSQL the batch asks the
server); inside a caller's transaction every batch has the job's own size."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction

from highseas.bench.dataset import insert_customers
from highseas.config import pacing
from highseas.config.sqlite.base import GATE
from highseas.customers.models import Customer
from highseas.pools.models import ClaimPolicy
from highseas.routing.models import AssignmentRule
from highseas.routing.runs import ApplyMode
from highseas.routing.services import run_assignment

# solo: timed, or several processes that want both cores; run alone (scripts/test)
pytestmark = [pytest.mark.solo, pytest.mark.django_db(transaction=True)]

BACKLOG = 1_000


def _write_a_row() -> None:
    ClaimPolicy.objects.update(holding_cap=None)


def _someone_waits() -> bool:
    if connection.vendor == "sqlite":
        return GATE.waiting() > 0
    with connections["default"].cursor() as cursor:
        cursor.execute(pacing.WAITED_FOR_SQL)
        return bool(cursor.fetchone()[0])


def _write_while_waited_for(pacer: pacing.Pacer, hold_seconds: float) -> None:
    """A batch's transaction of this thread that another thread's writer of the same row
    queues behind, held ``hold_seconds`` after that writer started waiting."""
    done = threading.Event()

    def other_writer() -> None:
        try:
            with transaction.atomic():
                _write_a_row()
        finally:
            connections.close_all()
            done.set()

    with transaction.atomic():
        _write_a_row()
        threading.Thread(target=other_writer).start()
        deadline = time.monotonic() + 10
        while not _someone_waits():
            assert time.monotonic() < deadline, "the other writer never queued"
            time.sleep(0.005)
        time.sleep(hold_seconds)
        pacer.before_commit()
    assert done.wait(10)


def _write(pacer: pacing.Pacer) -> None:
    with transaction.atomic():
        _write_a_row()
        pacer.before_commit()


def test_batches_grow_while_nobody_waits_and_shrink_to_the_budget_when_somebody_does(
    org: dict[str, Any],
) -> None:
    pacer = pacing.Pacer(1_000)
    assert pacer.size() == pacing.FIRST
    _write(pacer)
    pacer.wrote(pacing.FIRST)
    assert pacer.size() == 2 * pacing.FIRST

    started = time.perf_counter()
    _write_while_waited_for(pacer, 0.3)
    pacer.wrote(2 * pacing.FIRST)
    held_ms = (time.perf_counter() - started) * 1000
    # at least the 300 ms it was waited for, at most the whole batch: the next batch is sized
    # to hold for the budget at that rate
    assert (
        max(pacing.SMALLEST, int(2 * pacing.FIRST * pacing.BUDGET_MS / held_ms))
        <= (pacer.size())
        <= int(2 * pacing.FIRST * pacing.BUDGET_MS / 300)
    )
    fitted = pacer.size()
    if connection.vendor == "sqlite":
        hold = connection.last_hold
        assert hold is not None and hold.waited_for and hold.milliseconds >= 300

    pacer.wrote(10)  # no batch ended since ``size``: nothing to go by
    assert pacer.size() == fitted
    for _ in range(5):
        _write(pacer)
        pacer.wrote(1)
        pacer.size()
    assert pacer.size() == 1_000  # doubled back up to the job's own size, no further


def test_on_postgresql_a_wait_for_the_batch_s_own_locks_is_not_a_hold(
    org: dict[str, Any],
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's gate counts the hold from the moment the batch has the lock")
    pacer = pacing.Pacer(1_000)
    pacer.size()
    time.sleep(1.5)  # the batch waits for its locks behind a claim
    started = time.perf_counter()  # before ``holding``: this clock spans the pacer's own
    pacer.holding()
    _write_while_waited_for(pacer, 0.1)
    pacer.wrote(1_000)
    held_ms = (time.perf_counter() - started) * 1000
    assert held_ms < 1_000, "too slow a machine to tell the wait from the hold"
    # sized by the hold since ``holding``; counted from ``size`` it would be under 67
    assert pacer.size() >= int(1_000 * pacing.BUDGET_MS / held_ms)


def test_inside_a_transaction_of_the_caller_every_batch_has_the_job_s_size(
    org: dict[str, Any],
) -> None:
    with transaction.atomic():
        pacer = pacing.Pacer(1_000)
        assert pacer.size() == 1_000
        _write_a_row()
    pacer.wrote(1_000)
    assert pacer.size() == 1_000


def test_a_run_starts_small_and_doubles_while_nobody_waits(
    org: dict[str, Any],
) -> None:
    pool = org["east_pool"]
    ClaimPolicy.objects.filter(pool=pool).update(
        daily_quota=None, weekly_quota=None, holding_cap=None
    )
    insert_customers(pool, org["admin"], BACKLOG)
    AssignmentRule.objects.create(
        name="东区轮流",
        position=1,
        conditions={},
        target={"team": org["east"].pk, "strategy": "round_robin"},
    )
    preview = run_assignment(org["admin"], pool=pool, dry_run=True, seed=5, batch_size=5_000)
    real = run_assignment(
        org["admin"],
        pool=pool,
        dry_run=False,
        seed=5,
        batch_size=5_000,
        apply_mode=ApplyMode.BULK,
    )
    assert real.run.batches == 3  # 250 + 500 + the last 250

    assert preview.run.batches == 1
    assert real.run.assigned == BACKLOG
    assert [(d.customer_id, d.owner_id) for d in real.decisions] == [
        (d.customer_id, d.owner_id) for d in preview.decisions
    ]
    assert not Customer.objects.filter(pool=pool, owner__isnull=True).exists()
