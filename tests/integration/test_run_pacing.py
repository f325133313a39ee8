"""A long job on the embedded server paces its batches by the write gate (``config.sqlite
.pacing``): small first, twice as large after a batch nobody waited for, sized to the lock
budget after one a claim waited for; on PostgreSQL, and inside a caller's transaction, every
batch has the job's own size."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction

from highseas.bench.dataset import insert_customers
from highseas.config.sqlite import pacing
from highseas.config.sqlite.base import GATE
from highseas.customers.models import Customer
from highseas.pools.models import ClaimPolicy
from highseas.routing.models import AssignmentRule
from highseas.routing.runs import ApplyMode
from highseas.routing.services import run_assignment

pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG = 1_000


def _write_a_row() -> None:
    ClaimPolicy.objects.update(holding_cap=None)


def _write_while_waited_for(hold_seconds: float) -> None:
    """A transaction of this thread that another thread's writer queues behind, held
    ``hold_seconds`` after that writer started waiting."""
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
        while GATE.waiting() == 0:
            assert time.monotonic() < deadline, "the other writer never queued"
            time.sleep(0.005)
        time.sleep(hold_seconds)
    assert done.wait(10)


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_batches_grow_while_nobody_waits_and_shrink_to_the_budget_when_somebody_does(
    org: dict[str, Any],
) -> None:
    pacer = pacing.Pacer(1_000)
    assert pacer.size() == pacing.FIRST
    with transaction.atomic():
        _write_a_row()
    pacer.wrote(pacing.FIRST)
    assert pacer.size() == 2 * pacing.FIRST

    _write_while_waited_for(0.3)
    pacer.wrote(2 * pacing.FIRST)
    hold = connection.last_hold
    assert hold is not None and hold.waited_for and hold.milliseconds >= 300
    fitting = int(2 * pacing.FIRST * pacing.BUDGET_MS / hold.milliseconds)
    assert pacer.size() == max(pacing.SMALLEST, fitting) < 2 * pacing.FIRST

    pacer.wrote(10)  # no transaction of its own ended since: nothing to go by
    assert pacer.size() == max(pacing.SMALLEST, fitting)
    for _ in range(5):
        with transaction.atomic():
            _write_a_row()
        pacer.wrote(1)
        pacer.size()
    assert pacer.size() == 1_000  # doubled back up to the job's own size, no further


def test_inside_a_transaction_of_the_caller_every_batch_has_the_job_s_size(
    org: dict[str, Any],
) -> None:
    with transaction.atomic():
        pacer = pacing.Pacer(1_000)
        assert pacer.size() == 1_000
        _write_a_row()
    pacer.wrote(1_000)
    assert pacer.size() == 1_000


def test_a_run_starts_small_and_doubles_on_sqlite_and_takes_its_batch_size_on_postgresql(
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
    # 250 + 500 + the last 250 on the embedded server; one batch where writers of other rows
    # do not wait
    assert real.run.batches == (3 if connection.vendor == "sqlite" else 1)
    assert preview.run.batches == 1
    assert real.run.assigned == BACKLOG
    assert [(d.customer_id, d.owner_id) for d in real.decisions] == [
        (d.customer_id, d.owner_id) for d in preview.decisions
    ]
    assert not Customer.objects.filter(pool=pool, owner__isnull=True).exists()
