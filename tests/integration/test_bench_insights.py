"""``highseas bench insights`` on a small book: the raw baseline and, per page and user, the
cold load (cached figures forgotten first) and the timed loads, with the per-rep days rolled
before timing; a second run finds nothing left to roll."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.insights.models import FigureCache, RolledDay
from highseas.pools import ownership


@pytest.mark.django_db
def test_the_insights_bench_times_each_page_cold_and_warm_beside_the_baseline(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    now = timezone.now()
    customer = make_customer(org["admin"], pool=org["east_pool"], now=now - timedelta(days=3))
    ownership.claim(org["rep_a"], customer.pk, now=now - timedelta(days=2))
    out = io.StringIO()
    call_command("bench", "insights", "--requests", "2", stdout=out, stderr=io.StringIO())
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["path"] == "raw_sql_dashboard_aggregates"
    pages = {(line["path"], line["user"]): line for line in lines[1:]}
    assert {path for path, _user in pages} == {
        "/console/",
        "/console/insights/",
        "/api/v1/insights/reps/",
        "/api/v1/insights/reps/?sort=-claims&page_size=50",
        "/api/v1/insights/fairness/",
    }
    assert {user for _path, user in pages} == {"mgr_east", "boss"}
    for line in pages.values():
        assert line["cold_ms"] > 0 and line["p95_ms"] >= line["p50_ms"] > 0
        assert line["cpu_p95_ms"] >= line["cpu_p50_ms"] > 0
        assert line["baseline_p95_ms"] == lines[0]["p95_ms"]
    assert lines[1]["rolled_days"] == RolledDay.objects.count() >= 1
    assert FigureCache.objects.exists()


@pytest.mark.django_db
def test_the_profile_option_breaks_each_load_down_by_layer(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    make_customer(org["admin"], pool=org["east_pool"])
    out, err = io.StringIO(), io.StringIO()
    call_command("bench", "insights", "--requests", "1", "--profile", "1", stdout=out, stderr=err)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    for line in lines[1:]:
        assert line["profiled_seconds"] > 0
        assert sum(line["self_seconds_by_layer"].values()) > 0
        assert line["top_self_time"]
    assert "profiled" in err.getvalue()
