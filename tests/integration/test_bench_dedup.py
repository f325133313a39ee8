"""`highseas bench dedup` and `highseas bench search` at a tiny scale: figures with their
baseline, probes judged as intended, keys filled, and a database that passes `highseas check`."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command

from highseas.customers.models import Customer
from highseas.pools.invariants import run_checks

pytestmark = pytest.mark.django_db(transaction=True)

TINY = ("--customers", "600", "--queries", "80", "--reps", "3")


def _bench(benchmark: str) -> tuple[dict[str, dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("bench", benchmark, *TINY, stdout=out, stderr=err)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return {line["path"]: line for line in lines}, err.getvalue()


def test_dedup_reports_the_check_beside_the_exact_lookup_and_judges_every_probe() -> None:
    lines, summary = _bench("dedup")
    service, raw = lines["service"], lines["raw_exact_lookup"]
    assert (service["bench"], service["customers"], service["queries"]) == ("dedup", 600, 130)
    assert 0 < service["p50_ms"] <= service["p95_ms"] <= service["p99_ms"]
    assert service["baseline_p95_ms"] == raw["p95_ms"]
    assert service["target_p95_ms"] == 10.0
    assert "target p95 < 10 ms" in summary
    verdicts = service["verdicts"]
    assert verdicts["phone:refused"] == verdicts["name:refused"] > 0
    assert verdicts.get("new:refused", 0) == 0
    assert {"service:phone", "service:name", "service:fuzzy", "service:new"} <= set(lines)
    assert lines["dataset"]["keys_filled"] == 600
    assert not Customer.objects.filter(phone_key__isnull=True).exists()
    report = run_checks()
    assert report.ok, report.examples


def test_search_reports_every_query_kind_and_reuses_the_keys() -> None:
    _bench("dedup")
    lines, _ = _bench("search")
    assert lines["dataset"]["keys_filled"] == 0
    assert lines["service"]["target_p95_ms"] == 100.0
    kinds = {path.split(":")[1] for path in lines if path.startswith("service:")}
    assert kinds == {"fragment", "brand_prefix", "full_name", "phone", "common", "common_deep"}
