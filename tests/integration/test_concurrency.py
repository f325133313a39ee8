"""Real threads racing for customers against the real database (SQLite file and PostgreSQL):
every race has exactly the winners the rules allow, and the invariants hold afterwards."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from highseas.accounts.models import Role, User
from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.pools import ownership
from highseas.pools.invariants import run_checks
from highseas.pools.models import ClaimPolicy, OwnershipEvent, Pool
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def crowd(org: dict[str, Any], make_user: Callable[..., User]) -> list[User]:
    reps = [make_user(Role.REP, f"crowd{i:02d}", team=org["east"]) for i in range(50)]
    return reps


def assert_invariants() -> None:
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


def test_fifty_reps_claiming_one_customer_make_one_owner(
    org: dict[str, Any], crowd: list[User], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    tally = race(50, lambda i: ownership.claim(crowd[i], customer.pk))
    assert tally == Counter({"ok": 1, "already_owned": 49})
    customer.refresh_from_db()
    assert customer.owner in crowd
    assert OwnershipEvent.objects.filter(customer=customer, kind="claimed").count() == 1
    assert_invariants()


def test_one_rep_claiming_forty_at_once_gets_exactly_the_daily_quota(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=10)
    customers = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(40)]
    tally = race(40, lambda i: ownership.claim(org["rep_a"], customers[i].pk))
    assert tally == Counter({"ok": 10, "claim_quota_exceeded": 30})
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 10
    assert_invariants()


def test_one_rep_claiming_twenty_at_once_stops_at_the_holding_cap(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=7)
    customers = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(20)]
    tally = race(20, lambda i: ownership.claim(org["rep_a"], customers[i].pk))
    assert tally == Counter({"ok": 7, "holding_cap_reached": 13})
    assert_invariants()


def test_two_managers_assigning_one_customer_make_one_owner(
    org: dict[str, Any],
    make_team: Callable[..., Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
) -> None:
    group_two = make_team("华东二组", parent=org["east"])
    second_manager = make_user(Role.MANAGER, "mgr_east_2", team=group_two)
    group_two.manager = second_manager
    group_two.save()
    User.objects.filter(pk=org["rep_b"].pk).update(team=group_two)
    managers = [org["east_manager"], second_manager]
    receivers = [org["rep_a"], User.objects.get(pk=org["rep_b"].pk)]
    customer = make_customer(org["admin"], pool=org["east_pool"])
    tally = race(2, lambda i: ownership.assign(managers[i], customer.pk, receivers[i]))
    customer.refresh_from_db()
    assert customer.owner in receivers
    if customer.owner == receivers[0]:
        # The east manager won: once the customer is rep_a's, the second manager (whose
        # subtree holds only rep_b) no longer manages it, and permission is decided before
        # state — whichever they are told depends on whether they read it before or after.
        assert tally in (
            Counter({"ok": 1, "already_owned": 1}),
            Counter({"ok": 1, "permission_denied": 1}),
        )
    else:
        assert tally == Counter({"ok": 1, "already_owned": 1})
    assert OwnershipEvent.objects.filter(customer=customer, kind="assigned").count() == 1
    assert_invariants()


def test_a_random_mix_of_moves_keeps_every_invariant(
    org: dict[str, Any], crowd: list[User], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=6, holding_cap=4)
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    customers = [make_customer(org["admin"], pool=pool) for _ in range(30)]
    reps = crowd[:12]

    def churn(index: int) -> None:
        chooser = random.Random(index)
        rep = reps[index % len(reps)]
        for _ in range(25):
            target = chooser.choice(customers).pk
            try:
                if chooser.random() < 0.6:
                    ownership.claim(rep, target)
                elif chooser.random() < 0.5:
                    ownership.release(rep, target, reason="随机释放")
                else:
                    ownership.assign(org["east_manager"], target, rep)
            except HighSeasError:
                pass

    tally = race(12, churn)
    assert tally == Counter({"ok": 12})
    assert_invariants()
    for rep in reps:
        assert Customer.objects.filter(owner=rep).count() <= 4
