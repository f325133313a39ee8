"""`highseas bench sweep` at a tiny scale: measured figures, exactly the due customers recycled
once by the service sweep, a dataset re-armed afterwards, and `highseas check` still passing."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from highseas.bench import sweep as sweep_bench
from highseas.customers.models import Customer
from highseas.engine.ownership import Status
from highseas.engine.recycle import schedule
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.policies import recycle_rules
from highseas.pools.schedule import clock_of

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = ("--customers", "2000", "--due-percent", "5", "--reps", "10")
PATHS = {
    "dataset",
    "sweep",
    "raw_update_and_ledger",
    "sweep_nothing_due",
    "preview",
    "raw_select_due",
}


def _bench(*args: str) -> dict[str, dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    call_command("bench", "sweep", *args, stdout=out, stderr=err)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "sweep bench on" in err.getvalue()
    return {line["path"]: line for line in lines}


def _due() -> list[int]:
    return list(
        Customer.objects.filter(status="owned", recycle_due_at__lte=sweep_bench.NOW)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def test_the_sweep_recycles_exactly_the_due_customers_and_the_dataset_is_rearmed() -> None:
    lines = _bench(*SMALL)
    assert set(lines) == PATHS
    for line in lines.values():
        assert (line["bench"], line["customers"], line["due"]) == ("sweep", 2000, 100)
    assert lines["dataset"]["inserted"] == 2000
    real = lines["sweep"]
    assert real["recycled"] == real["ledger_recycled"] == real["ledger_customers"] == 100
    assert real["recycled_the_due"] and real["corrected"] == 0 and real["warned"] == 0
    assert real["seconds"] > 0 and real["per_second"] > 0
    # CPU beside wall-clock: on a shared machine their ratio says how long the sweep waited
    assert real["cpu_seconds"] > 0 and lines["raw_update_and_ledger"]["cpu_seconds"] > 0
    assert real["baseline"] == "raw_update_and_ledger" and real["baseline_seconds"] > 0
    assert real["ratio"] == pytest.approx(real["seconds"] / real["baseline_seconds"], rel=0.05)
    assert lines["raw_update_and_ledger"]["recycled"] == 100
    idle = lines["sweep_nothing_due"]
    assert idle["runs"] == 20 and 0 < idle["min_seconds"] <= idle["seconds"]
    assert idle["target_seconds"] == 0.05 and real["target_seconds"] == 3
    preview = lines["preview"]
    assert preview["recycled"] == 100 and preview["matches_sweep"] and preview["seconds"] > 0
    assert lines["raw_select_due"]["rows"] == 100

    # Re-armed: the same 100 customers owned and due again, the ledger back to `created` only.
    assert len(_due()) == 100
    assert Customer.objects.filter(status="pooled").count() == 0
    assert not OwnershipEvent.objects.exclude(kind="created").exists()
    report = run_checks()
    assert report.ok, report.examples
    assert (report.customers, report.events) == (2000, 2000)


def test_the_stored_due_times_are_the_engines() -> None:
    _bench("--customers", "300", "--due-percent", "10", "--reps", "3")
    pool = Pool.objects.select_related("recycle_policy").get(name=sweep_bench.POOL_NAME)
    rules = recycle_rules(pool)
    for customer in Customer.objects.filter(pool=pool):
        clock = clock_of(
            customer, status=Status.OWNED, owned_since=customer.owned_since, check_open_deal=False
        )
        plan = schedule(rules, clock)
        assert (customer.recycle_due_at, customer.warn_at) == (plan.due_at, plan.warn_at)
        assert customer.warn_at is not None and customer.recycle_due_at is not None
        if customer.recycle_due_at > sweep_bench.NOW:  # not due: not to be warned either
            assert customer.warn_at > sweep_bench.NOW
    assert len(_due()) == 30


def test_a_second_run_reuses_the_dataset_with_another_due_share() -> None:
    _bench(*SMALL)
    lines = _bench("--customers", "2000", "--due-percent", "1", "--reps", "10")
    assert lines["dataset"]["inserted"] == 0
    assert lines["dataset"]["restored"] == 100  # the first run's armed customers, made quiet
    assert lines["sweep"]["recycled"] == lines["sweep"]["ledger_recycled"] == 20
    assert len(_due()) == 20
    assert Customer.objects.count() == 2000
    assert run_checks().ok


def test_it_refuses_a_database_with_real_customers(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    make_customer(org["admin"], pool=org["east_pool"])
    with pytest.raises(CommandError, match="--force"):
        _bench(*SMALL)
    assert not Pool.objects.filter(name=sweep_bench.POOL_NAME).exists()
    assert Customer.objects.count() == 1


def test_the_profile_breaks_a_further_sweep_down_and_leaves_the_dataset_armed() -> None:
    lines = _bench("--customers", "300", "--due-percent", "10", "--reps", "3", "--profile", "1")
    assert set(lines) == {*PATHS, "sweep_profile"}
    profile = lines["sweep_profile"]
    layers = profile["self_seconds_by_layer"]
    assert "HighSeas services and engine" in layers and profile["profiled_seconds"] > 0
    rounding = 0.0005 * (len(layers) + 1)  # each figure is rounded to the millisecond
    assert sum(layers.values()) <= profile["profiled_seconds"] * 1.05 + rounding
    assert len(profile["top_self_time"]) == 10
    assert len(_due()) == 30  # re-armed after the profiled sweep too
    assert not OwnershipEvent.objects.exclude(kind="created").exists()
    assert run_checks().ok
