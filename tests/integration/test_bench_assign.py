"""`highseas bench assign` reports, for every path, this process's CPU time beside the
wall-clock time, and the load average of the run: on a shared machine, the figures that say
how much of a slow run was waiting for a core rather than work."""

from __future__ import annotations

import io
import json
import os

import pytest
from django.core.management import call_command
from django.db import connection

from highseas.customers.models import Customer
from highseas.pools.invariants import run_checks

pytestmark = pytest.mark.django_db(transaction=True)

PATHS = (
    *("run_bulk", "run_service", "preview"),
    *("raw_bulk_update", "raw_bulk_update_and_ledger", "raw_one_by_one"),
    "raw_one_by_one_in_batch",
)


def test_every_path_reports_cpu_time_beside_wall_clock_and_the_load_average() -> None:
    out, err = io.StringIO(), io.StringIO()
    args = ("--backlog", "120", "--reps", "10", "--rules", "5", "--service-sample", "12")
    call_command("bench", "assign", *args, stdout=out, stderr=err)
    lines = {line["path"]: line for line in map(json.loads, out.getvalue().splitlines())}
    cores = os.cpu_count() or 1
    for path in PATHS:
        line = lines[path]
        assert line["cpu_seconds"] > 0, path
        # one thread: its CPU time cannot exceed the wall time by more than the clocks' grain
        assert line["cpu_seconds"] <= line["seconds"] * cores + 0.01, path
        # cpu_seconds is rounded to the millisecond, cpu_ms_per_customer to the microsecond
        rounding = 0.5 / line["customers"] + 0.0005
        assert line["cpu_ms_per_customer"] == pytest.approx(
            1000 * line["cpu_seconds"] / line["customers"], abs=rounding
        ), path
        assert len(line["load_average"]) == 3
        wal = line["wal_bytes_per_customer"]  # PostgreSQL's WAL: each writing path writes some
        if connection.vendor != "postgresql":
            assert wal is None, path
        elif path != "preview":
            assert wal > 0, path
    assert lines["run_service"]["customers"] == 12
    for path in ("run_bulk", "run_service"):  # the statements each batch sent, beside
        line = lines[path]
        per_customer = line["statements_per_customer"] * line["customers"]
        assert line["statements_per_batch"] * line["batches"] == pytest.approx(
            per_customer, abs=0.05 * line["customers"] + line["batches"]
        ), path
    assert lines["run_service"]["baseline"] == "raw_one_by_one_in_batch"
    summary = err.getvalue()
    assert "load average" in summary and "ms/customer" in summary


def test_claims_during_the_run_are_timed_with_and_without_pacing_and_none_is_lost() -> None:
    """``--claims-per-second``: the real run twice more while a thread of reps claims the
    backlog's newest customers, its batches paced and not; every claim is counted with its
    outcome (the run may take a customer first), none fails, and everything is put back."""
    out, err = io.StringIO(), io.StringIO()
    args = ("--backlog", "600", "--reps", "10", "--rules", "5", "--service-sample", "12")
    call_command("bench", "assign", *args, "--claims-per-second", "200", stdout=out, stderr=err)
    lines = {line["path"]: line for line in map(json.loads, out.getvalue().splitlines())}
    for path in ("run_claimed_against", "run_claimed_against_unpaced"):
        line = lines[path]
        assert line["customers"] > 0 and line["per_second"] > 0, path
        assert line["claims"] > 0 and line["claims_per_second_asked"] == 200, path
        assert sum(line["claim_outcomes"].values()) == line["claims"], path
        assert set(line["claim_outcomes"]) <= {"claimed", "already_owned"}, path
        assert line["claim_p50_ms"] <= line["claim_p99_ms"] <= line["claim_max_ms"], path
        assert path in err.getvalue()
    assert lines["run_claimed_against_unpaced"]["batches"] == 1  # all of the run's 5,000
    assert not Customer.objects.exclude(status="pooled").exists()
    report = run_checks()
    assert report.ok, (report.problems, report.examples)
