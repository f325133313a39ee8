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

from highseas.insights import breakdowns, console, dashboard, performance
from highseas.insights.cache import refresh
from highseas.insights.limits import recompute_due_plans
from highseas.insights.snapshots import record_pool_sizes, roll_up
from highseas.insights.value import scheduled_rescore

FIGURES = (breakdowns, console, dashboard, performance)  # imported for the figures they register


# name → action(now), in the order they run; registered by ``InsightsConfig.ready``
JOBS: dict[str, Callable[[datetime], dict[str, Any]]] = {
    "insights:pool_sizes": record_pool_sizes,
    "insights:rollup": roll_up,
    "insights:figure_cache": refresh,  # the cached figures still being read (``console``, …)
    "insights:rescore": scheduled_rescore,
    "insights:limit_plans": recompute_due_plans,
}


def run_insight_jobs(now: datetime) -> dict[str, Any]:
    """All the parts at once, in one thread; the figures of the work done (the rescore and the
    limit plans), empty when there was nothing to do."""
    record_pool_sizes(now)  # bookkeeping for the dashboard, not a figure of the run
    roll_up(now)
    refresh(now)
    figures = scheduled_rescore(now) | recompute_due_plans(now)
    return {name: value for name, value in figures.items() if value}
