"""The insights' periodic work, run by the scheduler (``pools.scheduler.register_job``): the
value re-evaluation (at most once per ``ValueSettings.rescore_every_hours``) and the
performance-linked limit factors of the pools with a plan on (at most once a day)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from highseas.insights.value import scheduled_rescore


def run_insight_jobs(now: datetime) -> dict[str, Any]:
    figures: dict[str, Any] = dict(scheduled_rescore(now))
    return figures
