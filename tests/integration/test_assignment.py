"""Assignment runs against the real database (SQLite and PostgreSQL): preview equals the real
run, new customers are routed on create, every customer left pooled says why, the ledger and
the invariants hold after every run, and two concurrent runs on PostgreSQL assign each
customer once and keep the round-robin pointer consistent."""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from highseas.accounts.models import RepProfile, Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerLevel, Source
from highseas.customers.models import Customer
from highseas.engine.conditions import predicate
from highseas.engine.ownership import EventKind
from highseas.notify.models import Notification
from highseas.pools import assign_statements, claim_statements, ownership
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool
from highseas.routing import apply, history, queries, snapshots
from highseas.routing.compile import compile_conditions
from highseas.routing.explain import render, rep_names
from highseas.routing.models import (
    AssignmentDecision,
    AssignmentRule,
    AssignmentRun,
    RoutingCursor,
)
from highseas.routing.runs import ApplyMode, Carried, RunResult
from highseas.routing.services import run_assignment
from highseas.routing.snapshots import CUSTOMER_COLUMNS, customer_row, routed_customer

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]
NOW = timezone.now()


def rule(name: str, target: dict[str, Any], position: int = 0, **fields: Any) -> AssignmentRule:
    fields.setdefault("conditions", {})
    return AssignmentRule.objects.create(name=name, position=position, target=target, **fields)


def backlog(
    org: dict[str, Any], make_customer: MakeCustomer, count: int, **fields: Any
) -> list[Customer]:
    """Pooled customers created before any rule exists (so nothing routes them on create)."""
    return [
        make_customer(org["admin"], pool=org["east_pool"], now=NOW - timedelta(days=1), **fields)
        for _ in range(count)
    ]


def owners(customers: list[Customer]) -> dict[int, int | None]:
    found = dict(
        Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("pk", "owner_id")
    )
    return {c.pk: found[c.pk] for c in customers}


def set_cap(pool: Pool, cap: int) -> None:
    pool.claim_policy.holding_cap = cap
    pool.claim_policy.save()


def assert_invariants() -> None:
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


@pytest.fixture
def east_reps(org: dict[str, Any], make_user: Callable[..., User]) -> list[User]:
    return [org["rep_a"], org["rep_b"], make_user(Role.REP, "rep_d", team=org["east"])]


# --- preview and real run ------------------------------------------------------------------


@pytest.mark.parametrize("mode", [ApplyMode.BULK, ApplyMode.SERVICE])
def test_a_preview_and_a_real_run_with_the_same_seed_decide_the_same(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User], mode: str
) -> None:
    customers = backlog(org, make_customer, 12, province="广东") + backlog(
        org, make_customer, 12, province="浙江", industry="software"
    )
    rule(
        "广东",
        {"team": org["east"].pk, "strategy": "weighted", "weights": {str(east_reps[0].pk): 2}},
        1,
        conditions={"field": "province", "op": "eq", "value": "广东"},
    )
    rule(
        "软件",
        {"team": org["east"].pk, "strategy": "least_loaded"},
        2,
        conditions={"field": "industry", "op": "in", "value": ["software"]},
    )
    preview = run_assignment(
        org["admin"], pool=org["east_pool"], dry_run=True, seed=7, now=NOW, batch_size=5
    )
    assert set(owners(customers).values()) == {None}
    real = run_assignment(
        org["admin"],
        pool=org["east_pool"],
        dry_run=False,
        seed=7,
        now=NOW,
        apply_mode=mode,
        batch_size=5,
    )
    assert preview.run.batches == real.run.batches == 5
    planned = [(d.customer_id, d.owner_id, d.rule_id, d.explanation) for d in preview.decisions]
    applied = [(d.customer_id, d.owner_id, d.rule_id, d.explanation) for d in real.decisions]
    assert planned == applied
    assert owners(customers) == {d.customer_id: d.owner_id for d in real.decisions}
    assert None not in owners(customers).values()
    assert_invariants()


def test_a_preview_writes_nothing_but_its_log_row(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    backlog(org, make_customer, 5)
    rule("全部", {"team": org["east"].pk, "strategy": "round_robin"})
    events = OwnershipEvent.objects.count()
    result = run_assignment(org["east_manager"], pool=org["east_pool"], dry_run=True, seed=1)
    assert len(result.assigned) == 5
    assert OwnershipEvent.objects.count() == events
    assert not AssignmentDecision.objects.exists()
    assert not Customer.objects.filter(owner__isnull=False).exists()
    run = AssignmentRun.objects.get()
    assert (run.dry_run, run.considered, run.assigned, run.seed) == (True, 5, 5, 1)
    assert not RoutingCursor.objects.exists()


def test_a_real_run_writes_one_assigned_ledger_row_per_customer_with_the_rule_as_actor(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    customers = backlog(org, make_customer, 6)
    first = rule("全部", {"team": org["east"].pk, "strategy": "round_robin"})
    run_assignment(org["east_manager"], pool=org["east_pool"], dry_run=False, seed=3, now=NOW)
    events = OwnershipEvent.objects.filter(kind=EventKind.ASSIGNED.value)
    assert sorted(events.values_list("customer_id", flat=True)) == sorted(c.pk for c in customers)
    assert set(events.values_list("actor_label", flat=True)) == {f"system:rule:{first.pk}"}
    assert set(events.values_list("actor_id", flat=True)) == {None}  # never a borrowed user
    assert all("全部" in reason for reason in events.values_list("reason", flat=True))
    assert Counter(owners(customers).values()) == Counter({r.pk: 2 for r in east_reps})
    run = AssignmentRun.objects.get()
    assert (run.dry_run, run.trigger, run.assigned, run.triggered_by) == (
        False,
        "manual",
        6,
        org["east_manager"],
    )
    assert run.finished_at is not None and run.duration_ms > 0
    assert AssignmentDecision.objects.filter(run=run, outcome="assigned").count() == 6
    assert_invariants()


def test_the_bulk_and_the_service_path_leave_the_same_rows(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    set_cap(org["east_pool"], 50)
    org["east_pool"].recycle_policy.idle_days = 10
    org["east_pool"].recycle_policy.warn_days = 2
    org["east_pool"].recycle_policy.save()
    first = backlog(org, make_customer, 4, level="A")
    second = backlog(org, make_customer, 4, level="A")
    rule("全部", {"team": org["east"].pk, "strategy": "least_loaded"})
    by_service = run_assignment(
        org["admin"],
        dry_run=False,
        seed=5,
        now=NOW,
        customer_ids=[c.pk for c in first],
        apply_mode=ApplyMode.SERVICE,
    )
    by_bulk = run_assignment(
        org["admin"],
        dry_run=False,
        seed=5,
        now=NOW,
        customer_ids=[c.pk for c in second],
        apply_mode=ApplyMode.BULK,
    )
    assert len(by_service.assigned) == len(by_bulk.assigned) == 4
    columns = ("status", "owned_since", "recycle_due_at", "warn_at", "previous_owner_id")
    rows = {c.pk: Customer.objects.values_list(*columns).get(pk=c.pk) for c in first + second}
    assert len(set(rows.values())) == 1
    assert rows[first[0].pk][2] == NOW + timedelta(days=10)
    ledger = ("kind", "from_status", "to_status", "actor_id", "actor_label", "at")
    shapes = {
        OwnershipEvent.objects.filter(customer=c, kind="assigned").values_list(*ledger).get()[:4]
        for c in first + second
    }
    assert len(shapes) == 1
    assert_invariants()


# --- routing on create ----------------------------------------------------------------------


def test_a_new_pooled_customer_is_routed_on_create(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    east = rule("华东", {"team": org["east"].pk, "strategy": "round_robin"}, pool=org["east_pool"])
    customer = make_customer(org["east_manager"], pool=org["east_pool"], now=NOW)
    assert customer.status == "owned" and customer.owner in east_reps
    kinds = list(
        OwnershipEvent.objects.filter(customer=customer)
        .order_by("id")
        .values_list("kind", "actor_label")
    )
    assert kinds == [("created", "mgr_east"), ("assigned", f"system:rule:{east.pk}")]
    run = AssignmentRun.objects.get()
    assert (run.trigger, run.considered, run.assigned, run.apply_mode) == (
        "create",
        1,
        1,
        "service",
    )
    decision = AssignmentDecision.objects.get(customer=customer)
    assert decision.owner == customer.owner and decision.rule == east
    assert_invariants()


def test_a_rep_at_the_cap_registers_and_the_rules_route_it_to_a_colleague(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    set_cap(org["east_pool"], 1)
    make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    rule("华东", {"team": org["east"].pk, "strategy": "least_loaded"})
    customer = make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    assert customer.owner == org["rep_b"]
    explanation = AssignmentDecision.objects.get(customer=customer).explanation
    assert explanation["rejected"] == {
        str(org["rep_a"].pk): {"reason": "holding_cap_reached", "used": 1, "limit": 1}
    }
    assert_invariants()


def test_without_rules_a_new_customer_stays_pooled_and_no_run_is_logged(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    rule("别的池", {"team": org["south"].pk, "strategy": "round_robin"}, pool=org["south_pool"])
    customer = make_customer(org["admin"], pool=org["east_pool"])
    assert customer.status == "pooled"
    assert not AssignmentRun.objects.exists()


# --- reasons for customers left in the pool ---------------------------------------------------


def test_every_customer_left_in_the_pool_says_why(
    org: dict[str, Any], make_customer: MakeCustomer, make_user: Callable[..., User]
) -> None:
    RepProfile.objects.filter(user=org["rep_a"]).update(leave_from=date(2000, 1, 1))
    RepProfile.objects.filter(user=org["rep_b"]).update(is_active=False)
    nobody = backlog(org, make_customer, 1, province="广东")[0]
    kept = backlog(org, make_customer, 1, province="北京")[0]
    unmatched = backlog(org, make_customer, 1, province="西藏")[0]
    rule(
        "广东",
        {"team": org["east"].pk, "strategy": "round_robin"},
        1,
        conditions={"field": "province", "op": "eq", "value": "广东"},
    )
    rule(
        "北京留池",
        {"pool": org["east_pool"].pk},
        2,
        conditions={"field": "province", "op": "eq", "value": "北京"},
    )
    result = run_assignment(
        org["admin"], dry_run=False, now=NOW, customer_ids=[nobody.pk, kept.pk, unmatched.pk]
    )
    reasons = {d.customer_id: d.reason for d in result.unassigned}
    assert reasons == {
        nobody.pk: "nobody_eligible",
        kept.pk: "kept_in_pool",
        unmatched.pk: "no_rule_matched",
    }
    rejected = next(d for d in result.decisions if d.customer_id == nobody.pk).explanation[
        "rejected"
    ]
    assert rejected == {
        str(org["rep_a"].pk): {"reason": "on_leave"},
        str(org["rep_b"].pk): {"reason": "inactive"},
    }
    run = AssignmentRun.objects.get()
    assert run.unassigned_reasons == {"nobody_eligible": 1, "kept_in_pool": 1, "no_rule_matched": 1}
    assert Customer.objects.filter(status="pooled").count() == 3
    assert_invariants()


def test_named_customers_are_routed_in_batches_and_only_if_pooled(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    customers = backlog(org, make_customer, 7)
    ownership.claim(org["rep_a"], customers[0].pk, now=NOW)
    rule("全部", {"team": org["east"].pk, "strategy": "round_robin"})
    ids = [c.pk for c in customers]
    result = run_assignment(org["admin"], dry_run=False, now=NOW, customer_ids=ids, batch_size=3)
    assert sorted(d.customer_id for d in result.assigned) == sorted(ids[1:])
    assert result.run.batches == 3
    assert_invariants()


def test_a_backlog_run_leaves_out_customers_no_rule_can_match(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    backlog(org, make_customer, 3, province="广东")
    backlog(org, make_customer, 2, province="西藏")
    rule(
        "广东",
        {"team": org["east"].pk, "strategy": "round_robin"},
        conditions={"field": "province", "op": "eq", "value": "广东"},
    )
    result = run_assignment(org["admin"], dry_run=True, seed=1)
    assert len(result.decisions) == len(result.assigned) == 3


# --- limits across runs ---------------------------------------------------------------------


def test_a_daily_quota_counts_the_day_not_the_runs(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    customers = backlog(org, make_customer, 10)
    rule("配额", {"team": org["east"].pk, "strategy": "capacity", "daily_quota": 2})
    for customer in customers:
        run_assignment(org["admin"], dry_run=False, now=NOW, customer_ids=[customer.pk])
    assert Counter(owners(customers).values()) == Counter({None: 4, **{r.pk: 2 for r in east_reps}})
    left = AssignmentDecision.objects.filter(outcome="unassigned").values_list("reason", flat=True)
    assert set(left) == {"nobody_eligible"}
    tomorrow = run_assignment(org["admin"], dry_run=False, now=NOW + timedelta(days=1), seed=2)
    assert len(tomorrow.assigned) == 4


def test_a_daily_quota_holds_across_the_batches_of_one_run(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    customers = backlog(org, make_customer, 10)
    ownership.assign(org["admin"], customers[0].pk, east_reps[0], now=NOW)
    rule("配额", {"team": org["east"].pk, "strategy": "capacity", "daily_quota": 2})
    result = run_assignment(org["admin"], dry_run=False, now=NOW, seed=4, batch_size=2)
    assert result.run.batches == 5
    given = Counter(owners(customers).values())
    assert given == Counter({None: 4, **{r.pk: 2 for r in east_reps}})  # one given by hand
    assert_invariants()


def test_a_rule_never_takes_a_rep_past_the_holding_cap(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    set_cap(org["east_pool"], 3)
    customers = backlog(org, make_customer, 10)
    rule("给A", {"user": org["rep_a"].pk})
    result = run_assignment(org["admin"], pool=org["east_pool"], dry_run=False, seed=1)
    assert len(result.assigned) == 3
    assert {d.reason for d in result.unassigned} == {"holding_cap_reached"}
    assert Counter(owners(customers).values())[org["rep_a"].pk] == 3
    assert_invariants()


@pytest.mark.parametrize("weighed_by", [None, "pool_cap", "rep_cap", "least_loaded"])
def test_a_run_counts_what_the_reps_hold_only_when_a_cap_or_its_rule_weighs_it(
    org: dict[str, Any],
    make_customer: MakeCustomer,
    east_reps: list[User],
    monkeypatch: pytest.MonkeyPatch,
    weighed_by: str | None,
) -> None:
    """The count scans every customer the reps hold, once per batch: a round-robin run with
    no holding cap does not need it. A cap (the pool's or a rep's own) or a strategy that
    weighs holdings still counts them, and the cap holds."""
    counted: list[list[int]] = []
    holdings_of = snapshots.holdings_of
    monkeypatch.setattr(
        snapshots, "holdings_of", lambda reps: counted.append(reps) or holdings_of(reps)
    )
    make_customer(org["admin"], owner=org["rep_a"], now=NOW - timedelta(days=1))
    customers = backlog(org, make_customer, 6)
    if weighed_by == "pool_cap":
        set_cap(org["east_pool"], 2)
    elif weighed_by == "rep_cap":
        RepProfile.objects.filter(user=org["rep_a"]).update(holding_cap_override=1)
    strategy = "least_loaded" if weighed_by == "least_loaded" else "round_robin"
    rule("华东", {"team": org["east"].pk, "strategy": strategy})

    result = run_assignment(org["admin"], pool=org["east_pool"], dry_run=False, seed=1)

    assert bool(counted) == (weighed_by is not None)
    given = Counter(owners(customers).values())
    held = {rep.pk: given[rep.pk] + (rep == org["rep_a"]) for rep in east_reps}
    if weighed_by == "pool_cap":  # room for 1 + 2 + 2 of the 6
        assert (len(result.assigned), held) == (5, dict.fromkeys(held, 2))
        (left,) = result.unassigned
        assert left.reason == "nobody_eligible"
        assert {r["reason"] for r in left.explanation["rejected"].values()} == {
            "holding_cap_reached"
        }
    elif weighed_by == "rep_cap":  # rep_a holds one already: at their cap
        assert (len(result.assigned), given[org["rep_a"].pk]) == (6, 0)
    elif weighed_by == "least_loaded":  # fewest first: the holdings end even
        assert len(result.assigned) == 6 and max(held.values()) - min(held.values()) <= 1
    else:
        assert (len(result.assigned), sorted(given.values())) == (6, [2, 2, 2])
    assert_invariants()


def capped_round_robin(org: dict[str, Any], mode: str, **options: Any) -> RunResult:
    """A round-robin run over the east pool's backlog in batches of 3, the pool's cap at 2:
    the eligible set shrinks as the reps fill, from all three to two, then one."""
    set_cap(org["east_pool"], 2)
    rule("轮流", {"team": org["east"].pk, "strategy": "round_robin"})
    return run_assignment(
        org["admin"],
        pool=org["east_pool"],
        dry_run=False,
        seed=3,
        now=NOW,
        apply_mode=mode,
        batch_size=3,
        **options,
    )


@pytest.mark.parametrize("mode", [ApplyMode.BULK, ApplyMode.SERVICE])
def test_a_run_stores_each_eligible_set_once_and_reads_back_what_it_decided(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User], mode: str
) -> None:
    """An unscored decision names every eligible rep. The run stores each set once, in
    batches, and its decisions the set's number; the explanation read back (the customer's
    and the run's report) is the one the run made. Scored and one-rep sets stay whole."""
    customers = backlog(org, make_customer, 8)
    result = capped_round_robin(org, mode)
    assert (len(result.assigned), result.run.batches) == (6, 3)
    run = AssignmentRun.objects.get(pk=result.run.pk)
    reps = sorted(r.pk for r in east_reps)
    assert len(run.eligible_sets) == len({tuple(s) for s in run.eligible_sets}) == 2
    assert run.eligible_sets[0] == reps and len(run.eligible_sets[1]) == 2
    stored = {d.customer_id: d for d in AssignmentDecision.objects.filter(run=run)}
    made = {d.customer_id: d.explanation for d in result.decisions}
    numbered = [d for d in stored.values() if "eligible_set" in d.explanation]
    assert numbered and all("eligible" not in d.explanation for d in numbered)
    alone = [c for c, e in made.items() if len(e.get("eligible", ())) == 1]
    assert alone and all(len(stored[c].explanation["eligible"]) == 1 for c in alone)
    assert {c: d.explained() for c, d in stored.items()} == made
    viewer = Viewer(org["admin"])
    for customer in customers:
        assert queries.explanation(viewer, customer.pk)["explanation"] == render(
            made[customer.pk], rep_names([made[customer.pk]])
        )
    report = history.run_report(viewer, run.pk)
    assert len(report.decisions) == len(customers)
    assert [d["explanation"] for d in report.decisions] == [
        render(made[d["customer"]], rep_names(made.values())) for d in report.decisions
    ]


@pytest.mark.parametrize("mode", [ApplyMode.BULK, ApplyMode.SERVICE])
def test_a_run_killed_between_batches_has_stored_the_sets_its_decisions_name(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User], mode: str
) -> None:
    """Each batch stores the sets it added with its decisions: a run that ends after its
    second batch (here a failing progress report; a killed process the same) never finishes,
    and every decision it kept still reads back whole."""
    backlog(org, make_customer, 8)
    calls: list[int] = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        capped_round_robin(org, mode, progress=progress)  # the second set: second batch
    run = AssignmentRun.objects.get(dry_run=False)
    assert run.finished_at is None and len(run.eligible_sets) == 2
    kept = list(AssignmentDecision.objects.filter(run=run))
    assert len(kept) == 6
    numbers = {d.explanation["eligible_set"] for d in kept if "eligible_set" in d.explanation}
    assert numbers == {0, 1}
    assert all(len(d.explained().get("eligible", ())) in (1, 2, 3) for d in kept)


def test_scored_explanations_are_stored_whole(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    backlog(org, make_customer, 3)
    rule("少者", {"team": org["east"].pk, "strategy": "least_loaded"})
    result = run_assignment(org["admin"], pool=org["east_pool"], dry_run=False, seed=3, now=NOW)
    assert AssignmentRun.objects.get(pk=result.run.pk).eligible_sets == []
    stored = AssignmentDecision.objects.filter(run=result.run).order_by("id")
    assert [d.explanation for d in stored] == [d.explanation for d in result.decisions]
    assert all(len(d.explanation["eligible"]) == 3 for d in stored)


def test_the_round_robin_pointer_carries_over_from_run_to_run(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    customers = backlog(org, make_customer, 7)
    rule("轮流", {"team": org["east"].pk, "strategy": "round_robin"})
    for customer in customers:
        run_assignment(org["admin"], dry_run=False, now=NOW, seed=1, customer_ids=[customer.pk])
    given = [owners([c])[c.pk] for c in customers]
    rotation = sorted(r.pk for r in east_reps)
    start = rotation.index(given[0])
    assert given == [rotation[(start + i) % 3] for i in range(7)]


@pytest.mark.parametrize("meanwhile", ["before_fast_read", "before_fast_write", "full_path"])
def test_a_refusal_at_apply_time_is_reported_and_leaves_no_trace(
    org: dict[str, Any],
    make_customer: MakeCustomer,
    monkeypatch: pytest.MonkeyPatch,
    meanwhile: str,
) -> None:
    """Another rep claims the customer between the plan and its application: before the fast
    path reads it, between its read and its compare-and-set, or (the fast path stood aside)
    inside ``assign_many``; each time the full path refuses, saying why, and nothing is
    written for the run."""
    customer = backlog(org, make_customer, 1)[0]
    rule("给A", {"user": org["rep_a"].pk})
    claimed: list[int] = []

    def claim_once() -> None:
        if not claimed:
            claimed.append(customer.pk)
            ownership.claim(org["rep_b"], customer.pk, now=NOW)

    def wrap(module: Any, name: str) -> None:
        real = getattr(module, name)

        def claimed_meanwhile(*args: Any, **kwargs: Any) -> Any:
            claim_once()
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, claimed_meanwhile)

    if meanwhile == "before_fast_read":
        wrap(assign_statements, "assign_by_rule")
    elif meanwhile == "before_fast_write":
        wrap(claim_statements, "write_owned")
    else:
        monkeypatch.setattr(assign_statements, "assign_by_rule", lambda *a, **k: None)
        wrap(apply, "assign_many")
    result = run_assignment(
        org["admin"],
        dry_run=False,
        now=NOW,
        customer_ids=[customer.pk],
        apply_mode=ApplyMode.SERVICE,
    )
    assert claimed == [customer.pk]
    assert [d.reason for d in result.unassigned] == ["already_owned"]
    assert owners([customer])[customer.pk] == org["rep_b"].pk
    assert not OwnershipEvent.objects.filter(kind="assigned").exists()
    assert not Notification.objects.filter(kind="assigned").exists()
    assert_invariants()


# --- the database narrows, the engine decides ---------------------------------------------------

TREES: list[dict[str, Any]] = [
    {},
    {"field": "province", "op": "eq", "value": "广东"},
    {"field": "province", "op": "ne", "value": "广东"},
    {"field": "industry", "op": "in", "value": ["software", "retail"]},
    {"field": "industry", "op": "not_in", "value": ["software"]},
    {"field": "employees", "op": "between", "value": [10, 100]},
    {"not": {"field": "employees", "op": "gte", "value": 50}},
    {"field": "employees", "op": "exists"},
    {"field": "campaign", "op": "contains", "value": "Expo"},
    {"field": "tags", "op": "contains", "value": "重点"},
    {"field": "tags", "op": "in", "value": ["重点", "VIP"]},
    {"not": {"field": "tags", "op": "contains", "value": "重点"}},
    {"field": "custom.product_line", "op": "eq", "value": "ERP"},
    {"field": "custom.budget", "op": "gte", "value": 5},
    {"field": "custom.product_line", "op": "exists", "value": False},
    {
        "any": [
            {"field": "level", "op": "eq", "value": "A"},
            {"field": "city", "op": "eq", "value": "深圳"},
        ]
    },
    {
        "all": [
            {"field": "source", "op": "eq", "value": "referral"},
            {"not": {"field": "kind", "op": "eq", "value": "person"}},
        ]
    },
    {"any": []},
    {
        "not": {
            "any": [
                {"field": "custom.budget", "op": "lte", "value": 3},
                {"field": "province", "op": "eq", "value": "广东"},
            ]
        }
    },
]
PROFILES: list[dict[str, Any]] = [
    {"province": "广东", "city": "深圳", "industry": "software", "employees": 20, "tags": ["重点"]},
    {
        "province": "浙江",
        "industry": "retail",
        "employees": 80,
        "campaign": "Spring expo",
        "level": "A",
    },
    {
        "province": "江苏",
        "employees": None,
        "campaign": "Big Expo 2026",
        "custom_fields": {"product_line": "ERP", "budget": 7},
    },
    {
        "industry": "manufacturing",
        "tags": ["VIP", "重点客户"],
        "custom_fields": {"budget": "12", "product_line": ""},
    },
    {"source": "referral", "kind": "person", "employees": 10, "custom_fields": {"budget": 3.5}},
    {
        "source": "referral",
        "kind": "company",
        "employees": 100,
        "tags": [],
        "custom_fields": {"budget": True},
    },
]


def test_the_compiled_query_never_loses_a_match_and_is_exact_when_it_says_so(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    made = [make_customer(org["admin"], pool=org["east_pool"], **profile) for profile in PROFILES]
    rows = Customer.objects.filter(pk__in=[c.pk for c in made]).values(*CUSTOMER_COLUMNS)
    customers = [routed_customer(dict(row)) for row in rows]
    for tree in TREES:
        engine = {c.customer_id for c in customers if predicate(tree)(c.fields)}
        compiled = compile_conditions(tree, connection.vendor)
        query = Customer.objects.filter(pk__in=[c.pk for c in made])
        database = set(
            (query.filter(compiled.q) if compiled.q is not None else query).values_list(
                "pk", flat=True
            )
        )
        assert engine <= database, tree
        if compiled.exact:
            assert engine == database, tree


# --- concurrency on PostgreSQL ------------------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_assign_each_customer_once_and_keep_the_pointer(
    org: dict[str, Any], make_customer: MakeCustomer, make_user: Callable[..., User]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    reps = [make_user(Role.REP, f"rr{i}", team=org["east"]) for i in range(3)] + [
        org["rep_a"],
        org["rep_b"],
    ]
    customers = backlog(org, make_customer, 60)
    only = rule("轮流", {"team": org["east"].pk, "strategy": "round_robin"})
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = run_assignment(
                org["admin"], dry_run=False, now=NOW, seed=index, batch_size=7
            )
        except Exception as crash:  # reported by the assertion below, never swallowed
            results[index] = crash
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [r for r in results if isinstance(r, Exception)], results
    assigned = [d.customer_id for r in results for d in r.assigned]
    assert sorted(assigned) == sorted(c.pk for c in customers)
    events = OwnershipEvent.objects.filter(kind="assigned").values_list("customer_id", flat=True)
    assert sorted(events) == sorted(c.pk for c in customers)
    counts = Counter(owners(customers).values())
    assert set(counts) == {r.pk for r in reps} and max(counts.values()) - min(counts.values()) <= 1
    cursor = only.cursors.get()
    last_event = OwnershipEvent.objects.filter(kind="assigned").order_by("-id").first()
    assert last_event is not None and cursor.state == {"last": last_event.to_owner_id}
    assert cursor.version == sum(r.run.batches for r in results if r.run.assigned)
    assert_invariants()


# --- the command line and the benchmark ---------------------------------------------------------


def test_the_assign_command_previews_then_runs(
    org: dict[str, Any], make_customer: MakeCustomer, east_reps: list[User]
) -> None:
    customers = backlog(org, make_customer, 4)
    rule("全部", {"team": org["east"].pk, "strategy": "round_robin"})
    out = io.StringIO()
    call_command("assign", "--dry-run", "--seed", "3", stdout=out, stderr=io.StringIO())
    assert out.getvalue().startswith("would assign 4 of 4 customers in ")
    assert set(owners(customers).values()) == {None}
    out = io.StringIO()
    call_command("assign", "--seed", "3", "--json", stdout=out, stderr=io.StringIO())
    body = json.loads(out.getvalue())
    assert (body["dry_run"], body["seed"], len(body["assigned"])) == (False, 3, 4)
    assert owners(customers) == {e["customer"]: e["owner"] for e in body["assigned"]}
    with pytest.raises(CommandError, match="no pool 999999"):
        call_command("assign", "--pool", "999999", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_the_assign_benchmark_reports_its_figures_and_leaves_the_backlog_pooled() -> None:
    out, err = io.StringIO(), io.StringIO()
    args = ("--backlog", "400", "--reps", "20", "--rules", "20", "--service-sample", "40")
    call_command("bench", "assign", *args, stdout=out, stderr=err)
    lines = {line["path"]: line for line in map(json.loads, out.getvalue().splitlines())}
    assert set(lines) == {
        "dataset",
        "run_bulk",
        "run_service",
        "preview",
        "raw_bulk_update",
        "raw_bulk_update_and_ledger",
        "raw_one_by_one",
        "raw_one_by_one_in_batch",
    }
    real = lines["run_bulk"]
    assert (real["customers"], real["apply_mode"], real["preview_matches_real"]) == (
        400,
        "bulk",
        True,
    )
    assert real["per_second"] > 0 and real["baseline_per_second"] > 0
    service = lines["run_service"]
    assert service["customers"] == 40
    assert service["baseline"] == "raw_one_by_one_in_batch"
    assert lines["raw_one_by_one"]["customers"] == lines[service["baseline"]]["customers"] == 40
    assert service["ratio"] == pytest.approx(
        service["baseline_per_second"] / service["per_second"], rel=0.01
    )
    # every customer of the sample takes the rule's fast path under the reps' locks the run
    # took first: three statements each on SQLite (the facts, the compare-and-set, the ledger
    # row), two on PostgreSQL (the facts, the compare-and-set with its ledger row), besides
    # the run's own few
    per_customer = 2 if connection.vendor == "postgresql" else 3
    assert per_customer <= service["statements_per_customer"] < per_customer + 1
    assert lines["raw_bulk_update"]["customers"] == real["assigned"]
    assert "customers/s" in err.getvalue()
    assert not Customer.objects.exclude(status="pooled").exists()
    assert not OwnershipEvent.objects.filter(policy_ref="bench:baseline").exists()
    assert not AssignmentDecision.objects.exists()
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_the_assign_benchmark_profiles_a_further_run_and_puts_it_back() -> None:
    out, err = io.StringIO(), io.StringIO()
    args = ("--backlog", "200", "--reps", "10", "--service-sample", "10", "--profile", "1")
    call_command("bench", "assign", *args, stdout=out, stderr=err)
    lines = {line["path"]: line for line in map(json.loads, out.getvalue().splitlines())}
    profile = lines["run_profile"]
    assert profile["profiled_seconds"] > 0 and len(profile["top_self_time"]) == 10
    assert "HighSeas services and engine" in profile["self_seconds_by_layer"]
    assert "profiled run" in err.getvalue()
    assert not Customer.objects.exclude(status="pooled").exists()
    assert not AssignmentDecision.objects.exists()
    assert_invariants()


# --- an import's runs, batch after batch --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_quota_reached_between_an_imports_batches_by_a_concurrent_assign_is_planned_around(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """The runs of an import's batches carry what each rep was given today
    (``runs.Carried``); a manager's assignment committed by another thread between two
    batches is counted by the next one, which plans around the rep it filled — it does not
    plan by the carried count and have the grant refused."""
    first, second, *spare = backlog(org, make_customer, 4)
    rule("轮流", {"team": org["east"].pk, "strategy": "round_robin", "daily_quota": 2})
    carried = Carried()

    def batch(customer: Customer, seed: int) -> Any:
        return run_assignment(
            org["admin"],
            dry_run=False,
            now=NOW,
            seed=seed,
            customer_ids=[customer.pk],
            trigger=AssignmentRun.Trigger.IMPORT,
            apply_mode=ApplyMode.BULK,
            rows={customer.pk: customer_row(customer)},
            carried=carried,
        )

    (given,) = batch(first, 1).assigned
    other = org["rep_b"] if given.owner_id == org["rep_a"].pk else org["rep_a"]
    failures: list[BaseException] = []

    def fill_the_other_rep() -> None:
        try:
            for customer in spare:
                ownership.assign(org["east_manager"], customer.pk, other, now=NOW)
        except BaseException as crash:  # reported by the assertion below
            failures.append(crash)
        finally:
            connection.close()

    thread = threading.Thread(target=fill_the_other_rep)
    thread.start()
    thread.join(timeout=60)
    assert not failures
    result = batch(second, 2)
    (decision,) = result.decisions
    assert (decision.outcome.value, decision.owner_id) == ("assigned", given.owner_id)
    assert "refused" not in decision.explanation
    assert decision.explanation["rejected"][str(other.pk)]["reason"] == "daily_quota_reached"
    assert owners([first, second]) == {first.pk: given.owner_id, second.pk: given.owner_id}
    today = OwnershipEvent.objects.filter(kind="assigned", to_owner=other).count()
    assert today == 2
    assert_invariants()


def test_a_customer_routed_as_written_is_the_customer_as_read(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """The import routes its newcomers from the rows it has just written
    (``snapshots.customer_row``), which must be what reading them back gives, value for value
    and type for type: the rules test, and the explanations record, those values."""
    written = [
        make_customer(
            org["admin"],
            pool=org["east_pool"],
            province="浙江",
            city="杭州",
            industry="制造",
            employees=120,
            level=CustomerLevel.A,
            source=Source.REFERRAL,
            tags=["展会", "老客户"],
            custom_fields={"渠道": "代理", "分数": 3},
        ),
        make_customer(org["admin"], pool=org["east_pool"]),
    ]
    read = {
        row["id"]: row
        for row in Customer.objects.filter(pk__in=[c.pk for c in written]).values(*CUSTOMER_COLUMNS)
    }
    for customer in written:
        row = customer_row(customer)
        assert row.pop("hint") is None
        assert row == read[customer.pk]
        assert [type(v) for v in row.values()] == [type(v) for v in read[customer.pk].values()]
