"""``highseas bench rescore`` runs on a small demo: every path changes the same customers,
the set-based rescore leaves every invariant intact, and each figure has its raw ratio."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from highseas.insights.models import LevelChange
from highseas.pools.invariants import run_checks

pytestmark = pytest.mark.django_db


def test_the_rescore_bench_measures_every_path_against_the_raw_update() -> None:
    call_command("init", admin_username="admin", admin_password="Admin#2026", stdout=io.StringIO())
    call_command("demo", "--customers", "300", "--no-progress", stdout=io.StringIO())
    out, err = io.StringIO(), io.StringIO()
    call_command("bench", "rescore", "--changes", "100", "--sample", "20", stdout=out, stderr=err)
    lines = {line["path"]: line for line in map(json.loads, out.getvalue().splitlines())}
    assert list(lines) == ["raw_update", "scoring_only", "scheduled_rescore", "per_change"]
    changed = lines["raw_update"]["changes"]
    assert changed >= 100 and lines["scheduled_rescore"]["changes"] == changed
    assert lines["per_change"]["changes"] == 20
    assert all("ratio_to_raw" in lines[p] for p in ("scheduled_rescore", "per_change"))
    assert LevelChange.objects.filter(trigger="scheduled").count() == changed + 20
    assert "ms/change" in err.getvalue()
    assert not {k: v for k, v in run_checks().problems.items() if k != "schedule_mismatch"}
