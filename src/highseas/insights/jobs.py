"""The insights' periodic work, run by the scheduler's slow lane (``pools.scheduler``), each
part registered as its own job, so that one failing does not skip the others and two workers
can run two parts at once: the daily pool sizes the dashboard reads (at most once an hour),
the per-rep days of each day closed since the last roll-up, the refresh of the cached figures
being read, the value re-evaluation (at most once per ``ValueSettings.rescore_every_hours``)
and the performance-linked limit factors of the pools with a plan on (at most once a day)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from highseas.insights import breakdowns, console, dashboard, performance
from highseas.insights.cache import refresh
from highseas.insights.limits import recompute_due_plans
from highseas.insights.snapshots import record_pool_sizes, roll_up
from highseas.insights.value import scheduled_rescore

FIGURES = (breakdowns, console, dashboard, performance)  # imported for the figures they register


def record_pool_sizes_at_one_moment(now: datetime) -> dict[str, int]:
    """``record_pool_sizes``, whose replay reads the ledger and then the live pool counts: on
    PostgreSQL both are read in one REPEATABLE READ snapshot, so that a claim committed between
    the two reads cannot make a replayed day one short (below zero for a pool that was empty,
    which the row's check refuses). The job's lease keeps a second writer of the rows away."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return record_pool_sizes(now)  # inside a transaction, the caller's isolation holds
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return record_pool_sizes(now)


# name → action(now), in the order they run; registered by ``InsightsConfig.ready``
JOBS: dict[str, Callable[[datetime], dict[str, Any]]] = {
    "insights:pool_sizes": record_pool_sizes_at_one_moment,
    "insights:rollup": roll_up,
    "insights:figure_cache": refresh,  # the cached figures still being read (``console``, …)
    "insights:rescore": scheduled_rescore,
    "insights:limit_plans": recompute_due_plans,
}


def run_insight_jobs(now: datetime) -> dict[str, Any]:
    """All the parts at once, in one thread; the figures of the work done (the rescore and the
    limit plans), empty when there was nothing to do."""
    record_pool_sizes_at_one_moment(now)  # bookkeeping for the dashboard, not a figure of the run
    roll_up(now)
    refresh(now)
    figures = scheduled_rescore(now) | recompute_due_plans(now)
    return {name: value for name, value in figures.items() if value}
