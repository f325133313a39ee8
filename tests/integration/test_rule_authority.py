"""Assignment rules act as themselves (SPEC "API essentials, second part": actor
``system:rule:<id>``, never a borrowed user), through the one writer of ownership in ``pools``:
the set-based ``assign_many`` re-checks caps and quotas inside its own transaction, and a
registration locks only the rep it gives the customer to."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from highseas.accounts.models import RepProfile, Role, User
from highseas.customers.models import Customer
from highseas.engine.planner import plan as real_plan
from highseas.intake import creation as intake
from highseas.pools import ownership
from highseas.pools.authority import RuleAuthority
from highseas.pools.bulk_assign import Grant, assign_many
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool
from highseas.routing import runs
from highseas.routing.models import AssignmentDecision, AssignmentRule
from highseas.routing.runs import ApplyMode
from highseas.routing.services import run_assignment
from highseas.web.explain import acquisition

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]
NOW = timezone.now()


def rule(name: str, target: dict[str, Any], **fields: Any) -> AssignmentRule:
    fields.setdefault("conditions", {})
    fields.setdefault("position", 0)
    return AssignmentRule.objects.create(name=name, target=target, **fields)


def backlog(org: dict[str, Any], make_customer: MakeCustomer, count: int) -> list[Customer]:
    return [
        make_customer(org["admin"], pool=org["east_pool"], now=NOW - timedelta(days=1))
        for _ in range(count)
    ]


def set_limits(pool: Pool, **limits: Any) -> None:
    for name, value in limits.items():
        setattr(pool.claim_policy, name, value)
    pool.claim_policy.save()


def assigned_rows() -> list[tuple[int | None, str]]:
    return list(
        OwnershipEvent.objects.filter(kind="assigned").values_list("actor_id", "actor_label")
    )


def holdings(user: User) -> int:
    return Customer.objects.filter(owner=user, status__in=["owned", "frozen"]).count()


def assert_invariants() -> None:
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


# --- the ledger names the rule ----------------------------------------------------------------


def test_a_registration_routed_by_a_rule_records_the_rule_as_actor(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    east = rule("华东", {"team": org["east"].pk, "strategy": "round_robin"})
    customer = make_customer(org["east_manager"], pool=org["east_pool"], now=NOW)
    assert customer.owner in (org["rep_a"], org["rep_b"])
    assert assigned_rows() == [(None, f"system:rule:{east.pk}")]
    assert_invariants()


@pytest.mark.parametrize("mode", [ApplyMode.BULK, ApplyMode.SERVICE])
def test_a_backlog_run_records_the_rule_as_actor_on_either_path(
    org: dict[str, Any], make_customer: MakeCustomer, mode: str
) -> None:
    backlog(org, make_customer, 4)
    east = rule("华东", {"team": org["east"].pk, "strategy": "round_robin"})
    result = run_assignment(org["admin"], dry_run=False, now=NOW, seed=1, apply_mode=mode)
    assert len(result.assigned) == 4
    assert assigned_rows() == [(None, f"system:rule:{east.pk}")] * 4
    assert_invariants()


def test_the_why_is_this_mine_panel_names_the_rule(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    rule("华东轮转", {"team": org["east"].pk, "strategy": "round_robin"})
    customer = make_customer(org["east_manager"], pool=org["east_pool"], now=NOW)
    found = acquisition(customer)
    assert found is not None and found.kind == "assigned"
    assert "华东轮转" in found.actor
    assert org["admin"].label not in found.actor


def test_registering_with_no_active_admin_still_routes_the_customer(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    User.objects.filter(pk=org["admin"].pk).update(is_active=False)
    east = rule("华东", {"team": org["east"].pk, "strategy": "round_robin"})
    customer = make_customer(org["east_manager"], pool=org["east_pool"], now=NOW)
    assert customer.status == "owned"
    assert assigned_rows() == [(None, f"system:rule:{east.pk}")]


def test_a_rep_at_the_cap_whose_customer_a_rule_gives_to_a_colleague_is_told_so(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    set_limits(org["east_pool"], holding_cap=1)
    make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    rule("华东", {"team": org["east"].pk, "strategy": "least_loaded"})
    created = intake.create_customer(
        actor=org["rep_a"],
        fields={"name": "新注册客户", "phone": "13900000001"},
        owner=org["rep_a"],
        pool=org["east_pool"],
    )
    assert created.customer.owner == org["rep_b"]
    assert "unassigned" not in created.note
    assert org["rep_b"].label in created.note


# --- caps and quotas are re-checked where the write happens ----------------------------------


def behind_its_back(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    """Run ``action`` once, right after the run planned its first batch."""
    done: list[bool] = []

    def planned_then_changed(*args: Any, **kwargs: Any) -> Any:
        result = real_plan(*args, **kwargs)
        if not done:
            done.append(True)
            action()
        return result

    monkeypatch.setattr(runs, "plan", planned_then_changed)


@pytest.mark.parametrize("mode", [ApplyMode.BULK, ApplyMode.SERVICE])
def test_a_run_planned_from_stale_holdings_never_passes_the_cap(
    org: dict[str, Any], make_customer: MakeCustomer, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    set_limits(org["east_pool"], holding_cap=3)
    customers = backlog(org, make_customer, 3)
    by_hand = backlog(org, make_customer, 2)
    rule("给A", {"user": org["rep_a"].pk})

    def give_two() -> None:
        for customer in by_hand:
            ownership.assign(org["admin"], customer.pk, org["rep_a"], now=NOW)

    behind_its_back(monkeypatch, give_two)
    result = run_assignment(
        org["admin"],
        dry_run=False,
        now=NOW,
        customer_ids=[c.pk for c in customers],
        apply_mode=mode,
    )
    assert holdings(org["rep_a"]) == 3
    assert len(result.assigned) == 1
    assert [d.reason for d in result.unassigned] == ["holding_cap_reached"] * 2
    left = AssignmentDecision.objects.filter(outcome="unassigned").values_list("reason", flat=True)
    assert list(left) == ["holding_cap_reached"] * 2
    assert_invariants()


def test_a_bulk_run_planned_from_a_stale_day_never_passes_the_daily_quota(
    org: dict[str, Any], make_customer: MakeCustomer, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = backlog(org, make_customer, 3)
    by_hand = backlog(org, make_customer, 2)
    rule("给A", {"user": org["rep_a"].pk, "daily_quota": 3})

    def give_two() -> None:
        for customer in by_hand:
            ownership.assign(org["admin"], customer.pk, org["rep_a"], now=NOW)

    behind_its_back(monkeypatch, give_two)
    result = run_assignment(
        org["admin"],
        dry_run=False,
        now=NOW,
        customer_ids=[c.pk for c in customers],
        apply_mode=ApplyMode.BULK,
    )
    assert len(result.assigned) == 1
    assert {d.reason for d in result.unassigned} == {"claim_quota_exceeded"}
    assert holdings(org["rep_a"]) == 3
    assert_invariants()


def test_a_registration_refused_at_the_cap_falls_through_to_the_next_rep(
    org: dict[str, Any], make_customer: MakeCustomer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(org["east_pool"], holding_cap=2)
    make_customer(org["rep_b"], owner=org["rep_b"], pool=org["east_pool"])
    by_hand = backlog(org, make_customer, 2)
    rule("华东", {"team": org["east"].pk, "strategy": "least_loaded"})

    def fill_rep_a() -> None:  # the plan picked rep_a, who held nothing when it looked
        for customer in by_hand:
            ownership.assign(org["admin"], customer.pk, org["rep_a"], now=NOW)

    behind_its_back(monkeypatch, fill_rep_a)
    customer = make_customer(org["east_manager"], pool=org["east_pool"], now=NOW)
    assert customer.owner == org["rep_b"]
    assert holdings(org["rep_a"]) == 2
    assert_invariants()


# --- locks --------------------------------------------------------------------------------------


def profile_locks(queries: list[dict[str, str]]) -> list[str]:
    """The user ids of every rep profile row a statement locked (``FOR UPDATE``)."""
    table = RepProfile._meta.db_table
    locked: list[str] = []
    for query in queries:
        sql = query["sql"]
        if "FOR UPDATE" in sql and f'FROM "{table}"' in sql:
            found = re.search(r'"user_id" IN \(([^)]*)\)', sql)
            one = re.search(r"WHERE user_id = (\d+) FOR UPDATE", sql)  # the fast paths' lock
            assert found is not None or one is not None, sql
            parts = found.group(1).split(",") if found is not None else [one.group(1)]
            locked.extend(part.strip() for part in parts)
    return locked


@pytest.mark.postgres_only
def test_a_registration_locks_only_the_rep_it_gives_the_customer_to(
    org: dict[str, Any], make_customer: MakeCustomer, make_user: Callable[..., User]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    for i in range(8):
        make_user(Role.REP, f"east{i}", team=org["east"])
    rule("华东", {"team": org["east"].pk, "strategy": "least_loaded"})
    rule("南", {"team": org["south"].pk, "strategy": "round_robin"}, position=1)
    with CaptureQueriesContext(connection) as captured:
        customer = make_customer(org["east_manager"], pool=org["east_pool"], now=NOW)
    assert customer.owner is not None
    assert profile_locks(captured.captured_queries) == [str(customer.owner_id)]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_never_pass_a_cap_and_assign_each_customer_once(
    org: dict[str, Any], make_user: Callable[..., User]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    set_limits(org["east_pool"], holding_cap=2)
    reps = [org["rep_a"], org["rep_b"], make_user(Role.REP, "rep_x", team=org["east"])]
    rule("华东", {"team": org["east"].pk, "strategy": "least_loaded"})
    threads_count, each = 4, 3
    barrier = threading.Barrier(threads_count)
    crashes: list[BaseException] = []

    def register(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(each):
                intake.create_customer(
                    actor=org["east_manager"],
                    fields={"name": f"并发客户{index}-{n}", "phone": f"1370000{index}{n:03d}"},
                    pool=org["east_pool"],
                )
        except BaseException as crash:  # reported by the assertion below, never swallowed
            crashes.append(crash)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not crashes, crashes
    held = Counter(Customer.objects.filter(owner__in=reps).values_list("owner_id", flat=True))
    assert held == Counter({rep.pk: 2 for rep in reps})
    assert Customer.objects.filter(status="pooled").count() == threads_count * each - 6
    per_customer = Counter(
        OwnershipEvent.objects.filter(kind="assigned").values_list("customer_id", flat=True)
    )
    assert set(per_customer.values()) == {1} and len(per_customer) == 6
    assert_invariants()


# --- the rule's own permission path ----------------------------------------------------------


def grant(authority: RuleAuthority, customer: Customer, receiver: User) -> Grant:
    return Grant(authority, customer.pk, receiver.pk, "由规则分配")


def test_a_rule_assigns_only_customers_of_its_own_pool(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    customer = make_customer(org["admin"], pool=org["south_pool"])
    east_rule = RuleAuthority(1, "华东", org["east_pool"].pk, frozenset([org["rep_a"].pk]))
    refused = grant(east_rule, customer, org["rep_a"])
    assert assign_many([refused], now=NOW) == []
    assert refused.refusal is not None and refused.refusal.code.value == "permission_denied"
    assert not OwnershipEvent.objects.filter(kind="assigned").exists()
    assert Customer.objects.get(pk=customer.pk).owner_id is None


def test_a_rule_gives_only_to_the_reps_its_target_reaches_who_are_active(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    first, second, third = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(3))
    RepProfile.objects.filter(user=org["rep_b"]).update(is_active=False)
    authority = RuleAuthority(1, "华东", None, frozenset([org["rep_a"].pk, org["rep_b"].pk]))
    grants = [
        grant(authority, first, org["rep_c"]),
        grant(authority, second, org["rep_b"]),
        grant(authority, third, org["rep_a"]),
    ]
    assert assign_many(grants, now=NOW) == [grants[2]]
    codes = [g.refusal.code.value if g.refusal else None for g in grants]
    assert codes == ["permission_denied", "validation_error", None]
    assert assigned_rows() == [(None, "system:rule:1")]
    assert_invariants()


def test_assign_many_refuses_past_the_cap_whatever_the_caller_planned(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    set_limits(org["east_pool"], holding_cap=2)
    make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    customers = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(3)]
    authority = RuleAuthority(1, "给A", None, frozenset([org["rep_a"].pk]))
    grants = [grant(authority, c, org["rep_a"]) for c in customers]
    assert assign_many(grants, now=NOW) == grants[:1]
    assert [g.refusal.as_dict()["limit"] for g in grants[1:] if g.refusal] == [2, 2]
    assert holdings(org["rep_a"]) == 2
    assert_invariants()


def test_the_api_ownership_history_names_the_rule_not_a_user(
    org: dict[str, Any], make_customer: MakeCustomer, api: Callable[[User | None], Any]
) -> None:
    east = rule("华东轮转", {"team": org["east"].pk, "strategy": "round_robin"})
    customer = make_customer(org["east_manager"], pool=org["east_pool"], now=NOW)
    response = api(org["admin"]).get(f"/api/v1/customers/{customer.pk}/ownership/")
    assert response.status_code == 200
    assigned = [row for row in response.json() if row["kind"] == "assigned"]
    assert [(row["actor"], row["actor_name"]) for row in assigned] == [
        (f"system:rule:{east.pk}", "华东轮转")
    ]
    created = next(row for row in response.json() if row["kind"] == "created")
    assert (created["actor"], created["actor_name"]) == ("mgr_east", org["east_manager"].label)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_backlog_run_and_registrations_at_once_hold_the_caps_without_deadlock(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    set_limits(org["east_pool"], holding_cap=30)
    pooled = backlog(org, make_customer, 60)
    rule(
        "给A",
        {"user": org["rep_a"].pk},
        position=0,
        conditions={"field": "level", "op": "eq", "value": "A"},
    )
    rule("给B", {"user": org["rep_b"].pk}, position=1)
    Customer.objects.filter(pk__in=[c.pk for c in pooled[::2]]).update(level="A")
    barrier = threading.Barrier(3)
    crashes: list[BaseException] = []

    def backlog_run() -> None:
        try:
            barrier.wait(timeout=30)
            run_assignment(org["admin"], dry_run=False, seed=1, batch_size=7, apply_mode="bulk")
        except BaseException as crash:  # reported by the assertion below, never swallowed
            crashes.append(crash)
        finally:
            connection.close()

    def registrations(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(10):
                intake.create_customer(
                    actor=org["east_manager"],
                    fields={
                        "name": f"同时注册{index}-{n}",
                        "phone": f"1360000{index}{n:03d}",
                        "level": "A" if n % 2 else "B",
                    },
                    pool=org["east_pool"],
                )
        except BaseException as crash:  # reported by the assertion below, never swallowed
            crashes.append(crash)
        finally:
            connection.close()

    threads = [threading.Thread(target=backlog_run)] + [
        threading.Thread(target=registrations, args=(i,)) for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not crashes, crashes
    assert holdings(org["rep_a"]) == holdings(org["rep_b"]) == 30
    assert Customer.objects.filter(status="pooled").count() == 20
    per_customer = Counter(
        OwnershipEvent.objects.filter(kind="assigned").values_list("customer_id", flat=True)
    )
    assert set(per_customer.values()) == {1} and len(per_customer) == 60
    assert_invariants()
