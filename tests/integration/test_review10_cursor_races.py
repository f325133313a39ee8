"""Review of the round-robin pointers saved in one compare-and-set statement
(``routing.cursors.save``): runs of the same rule on real threads take turns on the pointer,
each planning from where the last one left it, so no run's move is lost: a round robin over
two reps stays within one customer of even across the runs, and the pointer's version
counts every run that moved it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Count

from highseas.accounts.models import RepProfile
from highseas.customers.models import Customer
from highseas.routing.models import AssignmentRule, RoutingCursor
from highseas.routing.services import run_assignment
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)
RUNS, EACH = 3, 61  # odd: a run planned from a stale pointer would start at the same rep


@pytest.mark.parametrize("apply_mode", ["bulk", "service"])
def test_concurrent_runs_of_one_rule_lose_no_pointer_move(
    org: dict[str, Any], make_customer: Callable[..., Customer], apply_mode: str
) -> None:
    pool = org["east_pool"]
    pool.claim_policy.daily_quota = 10_000
    pool.claim_policy.save()
    for rep in (org["rep_a"], org["rep_b"]):
        RepProfile.objects.get_or_create(user=rep)
    RepProfile.objects.filter(user__in=[org["rep_a"], org["rep_b"]]).update(
        holding_cap_override=10_000
    )
    each = EACH if apply_mode == "bulk" else 7
    batches = [
        [make_customer(org["admin"], pool=pool).pk for _ in range(each)] for _ in range(RUNS)
    ]
    AssignmentRule.objects.create(
        name="轮转", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    outcomes = race(
        RUNS,
        lambda i: run_assignment(
            org["admin"],
            pool=pool,
            dry_run=False,
            customer_ids=batches[i],
            apply_mode=apply_mode,
        ),
    )
    assert outcomes == Counter({"ok": RUNS}), outcomes
    held = dict(
        Customer.objects.filter(owner__isnull=False)
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    assert sum(held.values()) == RUNS * each
    assert abs(held[org["rep_a"].pk] - held[org["rep_b"].pk]) <= 1, held
    (version,) = RoutingCursor.objects.values_list("version", flat=True)
    assert version == RUNS
