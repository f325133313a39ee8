"""The insights' periodic work, run by the scheduler (``pools.scheduler.register_job``): the
value re-evaluation (at most once per ``ValueSettings.rescore_every_hours``), the
performance-linked limit factors of the pools with a plan on (at most once a day), the
daily pool sizes the dashboard reads (at most once an hour), the per-rep days of each day
closed since the last roll-up, and the refresh of the cached figures being read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from highseas.insights import breakdowns, console, dashboard, performance
from highseas.insights.cache import refresh
from highseas.insights.limits import recompute_due_plans
from highseas.insights.snapshots import record_pool_sizes, roll_up
from highseas.insights.value import scheduled_rescore

FIGURES = (breakdowns, console, dashboard, performance)  # imported for the figures they register


def run_insight_jobs(now: datetime) -> dict[str, Any]:
    """The figures of the work done; empty when there was nothing to do."""
    record_pool_sizes(now)  # bookkeeping for the dashboard, not a figure of the run
    roll_up(now)
    refresh(now)  # the cached figures still being read (``console``, ``dashboard``, …)
    figures = scheduled_rescore(now) | recompute_due_plans(now)
    return {name: value for name, value in figures.items() if value}
