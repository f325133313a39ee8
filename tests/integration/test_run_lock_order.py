"""A small assignment run (decision by decision) gives its customers in the batch's order,
which need not be the reps' id order; every other writer of several reps locks them in id
order (``facts.lock_reps``). So a run of several customers locks every rep its rules reach
first, in id order, and a run of one customer (a registration), which locks only its
receiver, lets go of a rep that refused it before it tries the next: on PostgreSQL neither
waits in a cycle with, say, ``assign_many``."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from highseas.accounts.models import RepProfile
from highseas.customers.models import Customer
from highseas.engine.planner import plan as real_plan
from highseas.pools import assign_statements, ownership, reasons
from highseas.pools.authority import RuleAuthority
from highseas.pools.bulk_assign import Grant, assign_many
from highseas.pools.invariants import run_checks
from highseas.pools.reasons import Reason
from highseas.routing import runs
from highseas.routing.models import AssignmentRule
from highseas.routing.runs import ApplyMode
from highseas.routing.services import run_assignment
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)


def reps_in_id_order(org: dict[str, Any]) -> tuple[Any, Any]:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: a SQLite write transaction excludes every other writer")
    rep_a, rep_b = org["rep_a"], org["rep_b"]
    assert rep_a.pk < rep_b.pk
    return rep_a, rep_b


def assign_to_both(first: Any, one: Customer, second: Any, other: Customer) -> None:
    """Another writer of several reps: ``assign_many`` locks them in id order."""
    authority = RuleAuthority(999, "other", None, frozenset([first.pk, second.pk]))
    reason = Reason(reasons.RULE_ASSIGNED, {"rule": "other", "run": 0})
    assign_many(
        [Grant(authority, one.pk, first.pk, reason), Grant(authority, other.pk, second.pk, reason)]
    )


def test_a_small_run_giving_reps_out_of_id_order_does_not_deadlock_with_assign_many(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: Any
) -> None:
    rep_a, rep_b = reps_in_id_order(org)
    for rep in (rep_a, rep_b):
        RepProfile.objects.get_or_create(user=rep)
    customers = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(5)]
    AssignmentRule.objects.create(
        name="rr",
        position=0,
        target={"team": org["east"].pk, "strategy": "round_robin"},
        conditions={},
    )
    # A first run moves the round-robin pointer so that the next one gives its first
    # customer to rep_b, then its second to rep_a: against the id order.
    run_assignment(
        org["admin"],
        dry_run=False,
        seed=1,
        customer_ids=[customers[0].pk],
        apply_mode=ApplyMode.SERVICE,
    )
    receivers: list[int] = []
    first_read = threading.Event()
    read = assign_statements._read_for_rule

    def slow_first_read(receiver: Any, customer_id: int, now: Any, **kwargs: Any) -> Any:
        found = read(receiver, customer_id, now, **kwargs)
        receivers.append(receiver.pk)
        if len(receivers) == 1:
            first_read.set()
            time.sleep(1.0)  # assign_many starts meanwhile and locks rep_a, then rep_b
        return found

    monkeypatch.setattr(assign_statements, "_read_for_rule", slow_first_read)

    def act(index: int) -> None:
        if index == 0:
            run_assignment(
                org["admin"],
                dry_run=False,
                seed=1,
                customer_ids=[customers[1].pk, customers[2].pk],
                apply_mode=ApplyMode.SERVICE,
            )
            return
        assert first_read.wait(30)
        time.sleep(0.2)
        assign_to_both(rep_a, customers[3], rep_b, customers[4])

    assert race(2, act) == Counter({"ok": 2})
    assert receivers == [rep_b.pk, rep_a.pk]  # the run did give against the id order
    owners = dict(
        Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("pk", "owner_id")
    )
    assert owners[customers[1].pk] == rep_b.pk and owners[customers[2].pk] == rep_a.pk
    assert owners[customers[3].pk] == rep_a.pk and owners[customers[4].pk] == rep_b.pk


def test_a_registration_refused_by_one_rep_lets_go_of_them_before_trying_the_next(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: Any
) -> None:
    rep_a, rep_b = reps_in_id_order(org)
    policy = org["east_pool"].claim_policy
    policy.holding_cap = 2
    policy.save()
    make_customer(org["admin"], owner=rep_a, pool=org["east_pool"])  # least loaded: rep_b
    by_hand = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2)]
    others = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2)]
    AssignmentRule.objects.create(
        name="least",
        position=0,
        target={"team": org["east"].pk, "strategy": "least_loaded"},
        conditions={},
    )
    now = timezone.now()
    plans: list[bool] = []
    planning_again = threading.Event()

    def fill_rep_b() -> None:
        try:
            for customer in by_hand:
                ownership.assign(org["admin"], customer.pk, rep_b, now=now)
        finally:
            connection.close()

    def plan_then_wait(*args: Any, **kwargs: Any) -> Any:
        plans.append(True)
        if len(plans) == 1:  # planned rep_b, who held nothing: fill rep_b to the cap
            decided = real_plan(*args, **kwargs)
            filler = threading.Thread(target=fill_rep_b)  # another connection, committed
            filler.start()
            filler.join()
            return decided
        planning_again.set()  # rep_b refused at the cap: assign_many starts meanwhile
        time.sleep(1.0)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(runs, "plan", plan_then_wait)
    registered: list[Customer] = []

    def act(index: int) -> None:
        if index == 0:
            registered.append(make_customer(org["east_manager"], pool=org["east_pool"]))
            return
        assert planning_again.wait(30)
        time.sleep(0.2)
        assign_to_both(rep_a, others[0], rep_b, others[1])  # rep_b refuses: at the cap

    assert race(2, act) == Counter({"ok": 2})
    assert len(plans) >= 2  # the registration did fall through from rep_b
    assert Customer.objects.get(pk=others[0].pk).owner_id == rep_a.pk
    assert Customer.objects.filter(owner=rep_b).count() == 2
    report = run_checks()
    assert report.ok, (report.problems, report.examples)
