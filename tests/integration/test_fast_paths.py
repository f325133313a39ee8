"""The rush paths beside the claim — a manager's assignment (``assign_statements``), the
release's one-statement read (``move_statements``) and the owner's follow-up
(``followup_statements``) — are taken, and under real threads on the real database (SQLite
file and PostgreSQL) they have no double effect and write one ledger row per change."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from highseas.accounts.models import Role, User
from highseas.customers.models import Activity, Customer
from highseas.engine.ownership import Status
from highseas.pools import followups, ownership
from highseas.pools.invariants import run_checks
from highseas.pools.models import ClaimPolicy, OwnershipEvent, RecyclePolicy
from highseas.pools.schedule import schedule_for
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)


def assert_invariants() -> None:
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


def statements(action: Callable[[], Any]) -> list[str]:
    """The statements ``action`` ran, savepoints and transaction control left out."""
    with CaptureQueriesContext(connection) as captured:
        action()
    skipped = ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK")
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(skipped)]


@pytest.fixture
def idle_policy(org: dict[str, Any]) -> None:
    RecyclePolicy.objects.update_or_create(
        pool=org["east_pool"], defaults={"idle_days": 10, "warn_days": 2, "no_deal_days": None}
    )


def test_the_fast_paths_are_taken(
    org: dict[str, Any], make_customer: Callable[..., Customer], idle_policy: None
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    manager, rep = org["east_manager"], org["rep_a"]
    assigned = statements(lambda: ownership.assign(manager, customer.pk, rep))
    # lock the receiver (PostgreSQL), the facts, the authority, the compare-and-set + ledger
    assert len(assigned) <= 5, assigned
    followed = statements(lambda: followups.log_activity(rep, customer.pk, kind="call"))
    assert len(followed) == 3, followed  # read (locked), insert, update
    released = statements(lambda: ownership.release(rep, customer.pk, reason="不合适"))
    assert len(released) == 3, released  # read, compare-and-set, ledger
    kinds = OwnershipEvent.objects.filter(customer=customer).values_list("kind", flat=True)
    assert list(kinds.order_by("id")) == ["created", "assigned", "released"]


def test_a_follow_up_restarts_the_clock_as_the_full_path_computes_it(
    org: dict[str, Any], make_customer: Callable[..., Customer], idle_policy: None
) -> None:
    rep = org["rep_a"]
    customer = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(rep, customer.pk)
    when = timezone.now()  # after the claim, so the idle clock counts from it
    activity = followups.log_activity(rep, customer.pk, kind="call", occurred_at=when)
    assert Activity.objects.filter(pk=activity.pk, author=rep, kind="call").exists()
    fresh = Customer.objects.select_related("pool__recycle_policy").get(pk=customer.pk)
    assert (fresh.last_activity_at, fresh.last_effective_activity_at) == (when, when)
    assert fresh.stage == "contacted"
    expected = schedule_for(
        fresh, status=Status.OWNED, owned_since=fresh.owned_since, pool=fresh.pool
    )
    assert (fresh.recycle_due_at, fresh.warn_at) == (expected.due_at, expected.warn_at)
    assert fresh.recycle_due_at == when + timedelta(days=10)


def test_a_stranger_s_follow_up_is_refused_by_the_full_path_and_leaves_no_trace(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(org["rep_a"], customer.pk)
    before = Customer.objects.get(pk=customer.pk).last_activity_at
    with pytest.raises(Exception) as refused:
        followups.log_activity(org["rep_c"], customer.pk, kind="call")
    assert getattr(refused.value, "code", None) is not None
    assert refused.value.code.value == "not_owner"
    assert not Activity.objects.filter(customer=customer).exists()
    assert Customer.objects.get(pk=customer.pk).last_activity_at == before


def test_managers_assigning_one_customer_at_once_make_one_owner_and_one_row(
    org: dict[str, Any], make_user: Callable[..., User], make_customer: Callable[..., Customer]
) -> None:
    receivers = [make_user(Role.REP, f"recv{i}", team=org["east"]) for i in range(8)]
    customer = make_customer(org["admin"], pool=org["east_pool"])
    givers = [org["east_manager"], org["admin"]]
    tally = race(8, lambda i: ownership.assign(givers[i % 2], customer.pk, receivers[i]))
    assert tally == Counter({"ok": 1, "already_owned": 7})
    customer.refresh_from_db()
    assert customer.owner in receivers
    assert OwnershipEvent.objects.filter(customer=customer, kind="assigned").count() == 1
    assert_invariants()


def test_assigning_twenty_at_once_to_one_rep_stops_at_the_cap(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=6)
    customers = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(20)]
    manager, rep = org["east_manager"], org["rep_b"]
    tally = race(20, lambda i: ownership.assign(manager, customers[i].pk, rep))
    assert tally == Counter({"ok": 6, "holding_cap_reached": 14})
    assert Customer.objects.filter(owner=rep).count() == 6
    assert OwnershipEvent.objects.filter(kind="assigned", to_owner=rep).count() == 6
    assert_invariants()


def test_owner_and_manager_releasing_at_once_release_once(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customers = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(5)]
    for customer in customers:
        ownership.claim(org["rep_a"], customer.pk)
    actors = [org["rep_a"], org["east_manager"]]
    for customer in customers:
        tally = race(2, lambda i, c=customer: ownership.release(actors[i], c.pk, reason="同时释放"))
        assert tally["ok"] == 1 and sum(tally.values()) == 2, tally
        events = OwnershipEvent.objects.filter(customer=customer, kind="released")
        assert events.count() == 1
    assert not Customer.objects.filter(owner=org["rep_a"]).exists()
    assert_invariants()


def test_follow_ups_at_once_each_land_and_racing_a_release_never_touch_a_pooled_clock(
    org: dict[str, Any], make_customer: Callable[..., Customer], idle_policy: None
) -> None:
    rep = org["rep_a"]
    customer = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(rep, customer.pk)
    start = timezone.now()  # after the claim, within the allowed clock skew
    moments = [start + timedelta(seconds=i) for i in range(10)]
    tally = race(
        10, lambda i: followups.log_activity(rep, customer.pk, kind="call", occurred_at=moments[i])
    )
    assert tally == Counter({"ok": 10})
    fresh = Customer.objects.get(pk=customer.pk)
    assert Activity.objects.filter(customer=customer).count() == 10
    assert fresh.last_effective_activity_at == max(moments)
    assert fresh.recycle_due_at == max(moments) + timedelta(days=10)

    def follow_up_or_release(index: int) -> None:
        if index == 0:
            ownership.release(rep, customer.pk, reason="不再跟进")
        else:
            followups.log_activity(rep, customer.pk, kind="call")

    tally = race(6, follow_up_or_release)
    assert tally["ok"] >= 1 and set(tally) <= {"ok", "not_owner"}, tally
    fresh = Customer.objects.get(pk=customer.pk)
    assert (fresh.status, fresh.owner_id, fresh.recycle_due_at) == ("pooled", None, None)
    assert OwnershipEvent.objects.filter(customer=customer, kind="released").count() == 1
    assert_invariants()
