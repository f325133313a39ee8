"""`highseas bench claim` at a tiny scale: measured figures, claims that stick, baselines that
undo themselves, and a database that still passes `highseas check`."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from highseas.bench.claim import EXTRA_PATHS
from highseas.customers.models import Activity, Customer
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = ("--customers", "2000", "--claims", "200", "--reps", "10")
TINY = ("--customers", "500", "--claims", "50", "--reps", "5")
MEASURED = ("service", "raw_conditional_update", "raw_update_and_ledger")
# The other rush paths, each judged by a raw baseline (``bench.claim.EXTRA_PATHS``).
RUSH = ("service_assign", "service_followup", "raw_followup", "service_release", "raw_release")


def _bench(*args: str) -> dict[str, dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    call_command("bench", "claim", *args, stdout=out, stderr=err)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "claims/s" in err.getvalue()
    return {line["path"]: line for line in lines}


def _owned() -> int:
    return Customer.objects.filter(status="owned").count()


def test_every_path_reports_measured_positive_figures() -> None:
    lines = _bench(*SMALL)
    assert set(lines) == {"dataset", *MEASURED, *RUSH}
    for path in (*MEASURED, *RUSH):
        line = lines[path]
        assert (line["bench"], line["customers"], line["claims"]) == ("claim", 2000, 200)
        assert line["per_second"] > 0
        assert 0 < line["p50_ms"] <= line["p99_ms"]
        # the mean latency split into the client's CPU and the rest (the database, waiting)
        client, rest = line["client_cpu_ms_per_claim"], line["database_and_waiting_ms_per_claim"]
        assert client > 0
        assert client + rest == pytest.approx(1000 / line["per_second"], rel=0.1)
    service, raw = lines["service"], lines["raw_conditional_update"]
    assert service["baseline_per_second"] == raw["per_second"]
    assert service["ratio"] == pytest.approx(raw["per_second"] / service["per_second"], rel=0.01)
    assert lines["dataset"]["inserted"] == 2000
    for path, baseline in EXTRA_PATHS.items():
        assert lines[path]["baseline"] == baseline
        assert lines[path]["baseline_per_second"] == lines[baseline]["per_second"]


def test_service_claims_stick_and_baseline_claims_are_undone() -> None:
    """The service's claims were followed up and released by their owners, its assignments
    stay; the baselines' claims, follow-ups and releases are undone."""
    _bench(*TINY)
    assert _owned() == 50
    assert Customer.objects.filter(status="pooled").count() == 450
    for kind in ("claimed", "assigned", "released"):
        assert OwnershipEvent.objects.filter(kind=kind).count() == 50, kind
    assert not OwnershipEvent.objects.filter(policy_ref="bench:baseline").exists()
    assert Activity.objects.count() == Activity.objects.filter(note="bench").count() == 50
    report = run_checks()
    assert report.ok, report.examples
    assert (report.customers, report.events) == (500, 650)


def test_a_second_run_reuses_the_dataset_and_claims_other_customers() -> None:
    _bench(*TINY)
    lines = _bench(*TINY)
    assert lines["dataset"]["inserted"] == 0
    assert Customer.objects.count() == 500
    assert _owned() == 100
    assert run_checks().ok


def test_the_profile_counts_the_statements_of_a_claim() -> None:
    lines = _bench(*TINY, "--profile", "20")
    profile = lines["service_profile"]
    assert profile["claims"] == 20
    assert profile["statements_per_claim"]["UPDATE customers_customer"] == 1
    assert profile["statements_per_claim"]["INSERT pools_ownershipevent"] == 1
    assert profile["queries_per_claim"] >= 2
    assert profile["profiled_ms_per_claim"] > 0
    assert _owned() == 70
    assert run_checks().ok


def test_it_refuses_a_database_with_real_customers(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    make_customer(org["admin"], pool=org["east_pool"])
    with pytest.raises(CommandError, match="--force"):
        _bench(*TINY)
    assert not Pool.objects.filter(name="bench-pool").exists()
    assert Customer.objects.count() == 1


def test_force_runs_beside_real_customers_without_touching_them(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    real = make_customer(org["admin"], pool=org["east_pool"])
    _bench(*TINY, "--force")
    real.refresh_from_db()
    assert (real.status, real.owner_id) == ("pooled", None)
    assert Customer.objects.count() == 501
    assert run_checks().ok


def test_a_failing_run_still_undoes_the_raw_baselines(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_profile(*args: Any) -> None:
        raise RuntimeError("profiler broke")

    monkeypatch.setattr("highseas.bench.claim.profile_service", broken_profile)
    with pytest.raises(RuntimeError, match="profiler broke"):
        _bench(*TINY, "--profile", "10")
    assert _owned() == 50
    assert not OwnershipEvent.objects.filter(policy_ref="bench:baseline").exists()
    assert run_checks().ok
