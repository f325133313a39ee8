"""The insights' periodic work, run by the scheduler (``pools.scheduler.register_job``): the
value re-evaluation (at most once per ``ValueSettings.rescore_every_hours``) and the
performance-linked limit factors of the pools with a plan on (at most once a day)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from highseas.insights.limits import recompute_due_plans
from highseas.insights.value import scheduled_rescore


def run_insight_jobs(now: datetime) -> dict[str, Any]:
    """The figures of the work done; empty when there was nothing to do."""
    figures = scheduled_rescore(now) | recompute_due_plans(now)
    return {name: value for name, value in figures.items() if value}
