"""A backlog run's set-based batches (``routing.runs`` → ``pools.bulk_assign.assign_many``):

- the counts the batch made under the reps' locks (holdings, what each rep was given today)
  are handed to ``assign_many`` instead of being counted again, and the rows the run writes
  (owners, schedules, ledger, notifications, decision log) are those of counting again;
- counts handed in are counted again when the ledger has moved since;
- a customer taken between the batch's read and its compare-and-set is refused
  (``already_owned``): skipped, reported, and no trace of the assignment is left;
- Python's full collections are held off during a run and come back after it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from highseas.customers.models import Customer
from highseas.engine.planner import plan as real_plan
from highseas.notify.models import Notification
from highseas.pools import facts, ownership
from highseas.pools.authority import RuleAuthority
from highseas.pools.bulk_assign import Grant, Loads, assign_many, ledger_mark
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent
from highseas.routing import runs
from highseas.routing.models import AssignmentDecision, AssignmentRule
from highseas.routing.runs import ApplyMode, full_collections_held
from highseas.routing.services import run_assignment
from tests.integration.test_rule_authority import NOW, backlog, set_limits

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]


def assert_invariants() -> None:
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


def written(customers: list[Customer], run_id: int) -> dict[str, Any]:
    """Everything a run writes for ``customers``, with the run's own id left out."""
    ids = [c.pk for c in customers]
    ledger = OwnershipEvent.objects.filter(customer_id__in=ids, kind="assigned").order_by(
        "customer_id"
    )
    return {
        "customers": list(
            Customer.objects.filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "status", "owner_id", "owned_since", "recycle_due_at", "warn_at")
        ),
        "ledger": [
            (
                *(e.customer_id, e.from_status, e.to_status, e.to_owner_id, e.to_pool_id),
                *(e.actor_id, e.actor_label, e.reason_code, e.at),
                {k: v for k, v in (e.reason_params or {}).items() if k != "run"},
            )
            for e in ledger
        ],
        "notifications": sorted(
            Notification.objects.filter(kind="assigned").values_list(
                "recipient_id", "title", "body", "customer_id"
            )
        ),
        "decisions": list(
            AssignmentDecision.objects.filter(run_id=run_id)
            .order_by("customer_id")
            .values_list("customer_id", "rule_id", "owner_id", "outcome", "reason")
        ),
    }


def limited_backlog(org: dict[str, Any], make_customer: MakeCustomer) -> list[Customer]:
    """A cap and a daily quota that bind, reps who already hold and were already given
    customers today, and a backlog walked in several batches."""
    set_limits(org["east_pool"], holding_cap=5, daily_quota=3)
    make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"], now=NOW)
    given = backlog(org, make_customer, 1)
    ownership.assign(org["east_manager"], given[0].pk, org["rep_b"], now=NOW)
    customers = backlog(org, make_customer, 9)
    AssignmentRule.objects.create(
        name="华东",
        position=0,
        conditions={},
        target={"team": org["east"].pk, "strategy": "least_loaded"},
    )
    return customers


def test_counts_handed_in_write_the_rows_of_counting_again(
    org: dict[str, Any], make_customer: MakeCustomer, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = limited_backlog(org, make_customer)

    def run() -> dict[str, Any]:
        result = run_assignment(
            org["admin"], dry_run=False, now=NOW, seed=3, batch_size=4, apply_mode=ApplyMode.BULK
        )
        return written(customers, result.run.pk)

    with transaction.atomic():  # the old way: ``assign_many`` locks and counts itself
        with monkeypatch.context() as old:
            old.setattr(runs.Runner, "_loads", lambda self, roster: None)
            counting_again = run()
        transaction.set_rollback(True)

    counted: list[str] = []
    for name in ("holdings_of", "assigned_on"):
        real = getattr(facts, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            counted.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(facts, name, spy)  # ``bulk_assign`` counts through ``facts.…``
    handed_in = run()
    assert counted == []  # nothing counted again
    assert handed_in == counting_again
    outcomes = [row[3] for row in handed_in["decisions"]]
    # a: holds 1, b: was given 1 today; cap 5 and quota 3 a day leave a 3 and b 2
    assert outcomes.count("assigned") == 5
    assert {row[4] for row in handed_in["decisions"] if row[3] != "assigned"} == {"nobody_eligible"}
    assert_invariants()


def grant_to(org: dict[str, Any], customer: Customer) -> Grant:
    authority = RuleAuthority(1, "华东", org["east_pool"].pk, frozenset([org["rep_a"].pk]))
    return Grant(authority, customer.pk, org["rep_a"].pk, "rule")


def test_counts_handed_in_are_counted_again_once_the_ledger_moved(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    set_limits(org["east_pool"], holding_cap=1)
    first, second = backlog(org, make_customer, 2)
    mark = ledger_mark()
    nothing = Loads(held={org["rep_a"].pk: (0, 0)}, given={org["rep_a"].pk: 0}, mark=mark)
    ownership.assign(org["east_manager"], first.pk, org["rep_a"], now=NOW)  # the ledger moves
    grant = grant_to(org, second)
    assert assign_many([grant], now=NOW, loads=nothing) == []
    assert grant.refusal is not None and grant.refusal.code.value == "holding_cap_reached"
    assert Customer.objects.get(pk=second.pk).owner_id is None
    # the same counts, current: trusted (what the run hands in is what it counted)
    current = Loads(held={org["rep_a"].pk: (1, 0)}, given={org["rep_a"].pk: 1}, mark=ledger_mark())
    set_limits(org["east_pool"], holding_cap=2)
    assert assign_many([grant_to(org, second)], now=NOW, loads=current) != []
    assert_invariants()


def test_a_receiver_missing_from_the_counts_handed_in_is_counted(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    set_limits(org["east_pool"], holding_cap=1)
    make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"], now=NOW)
    customer = backlog(org, make_customer, 1)[0]
    other = Loads(held={org["rep_b"].pk: (0, 0)}, given={org["rep_b"].pk: 0}, mark=ledger_mark())
    grant = grant_to(org, customer)
    assert assign_many([grant], now=NOW, loads=other) == []
    assert grant.refusal is not None and grant.refusal.code.value == "holding_cap_reached"


def test_a_customer_claimed_between_the_batch_read_and_the_write_is_skipped_without_trace(
    org: dict[str, Any], make_customer: MakeCustomer, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = backlog(org, make_customer, 4)
    taken = customers[1]
    AssignmentRule.objects.create(
        name="华东",
        position=0,
        conditions={},
        target={"team": org["east"].pk, "strategy": "round_robin"},
    )

    def planned_then_claimed(*args: Any, **kwargs: Any) -> Any:
        result = real_plan(*args, **kwargs)
        if not OwnershipEvent.objects.filter(customer=taken, kind="claimed").exists():
            ownership.claim(org["rep_a"], taken.pk, now=NOW)  # behind the run's back
        return result

    monkeypatch.setattr(runs, "plan", planned_then_claimed)
    result = run_assignment(org["admin"], dry_run=False, now=NOW, seed=1, apply_mode=ApplyMode.BULK)
    by_customer = {d.customer_id: d for d in result.decisions}
    refused = by_customer[taken.pk]
    assert (refused.outcome.value, refused.reason, refused.owner_id) == (
        "unassigned",
        "already_owned",
        None,
    )
    assert refused.explanation["refused"]["code"] == "already_owned"
    assert [d.customer_id for d in result.assigned] == [c.pk for c in customers if c.pk != taken.pk]
    kinds = OwnershipEvent.objects.filter(customer=taken).order_by("id")
    assert list(kinds.values_list("kind", flat=True)) == ["created", "claimed"]
    assert Customer.objects.get(pk=taken.pk).owner_id == org["rep_a"].pk
    assert not Notification.objects.filter(customer=taken).exists()
    logged = AssignmentDecision.objects.get(run=result.run, customer=taken)
    assert (logged.outcome, logged.reason, logged.owner_id) == ("unassigned", "already_owned", None)
    assert OwnershipEvent.objects.filter(kind="assigned").count() == 3
    assert_invariants()


def test_full_collections_are_held_during_a_run_and_come_back_after() -> None:
    before = gc.get_threshold()
    with full_collections_held():
        held = gc.get_threshold()
        with full_collections_held():  # a second run at once
            assert gc.get_threshold() == held
        assert gc.get_threshold() == held
    assert held[:2] == before[:2] and held[2] > before[2]
    assert gc.get_threshold() == before
