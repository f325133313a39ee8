"""Review of small assignment runs applied decision by decision (``ApplyMode.SERVICE``) that
lock every rep the rules reach first and then skip each receiver's lock
(``runs.lock_rep_rows`` answers whose rows it locked; ``assign_by_rule(receiver_locked=…)``),
on real threads against the same reps' claims, releases and a manager's assigns — one of the
reps without a profile row when it starts (the first run to lock the reps makes it and holds
its lock with the others'; found made by someone else and locked only at its grant, it once
closed a cycle with that rep's claim of a customer the run had already given).

Replaying each rep's ledger in id order, no gain starts at the holding cap and no rule
assignment at the daily quota; nothing crashed; every customer has at most one owner and
every owner change its ledger row (``invariants.run_checks``)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from highseas.accounts.models import RepProfile
from highseas.customers.models import Customer
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent
from highseas.routing.runs import ApplyMode
from highseas.routing.services import run_assignment
from tests.integration.test_runs_caps_under_races import (
    CAP,
    east_backlog,
    replay,
    runs_against_reps,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_service_runs_claims_releases_and_assigns_keep_caps_quotas_and_ledger(
    org: dict[str, Any], make_user: Callable[..., Any], make_customer: Callable[..., Customer]
) -> None:
    now = timezone.now()
    newcomer = make_user("rep", "newcomer", team=org["east"])
    RepProfile.objects.filter(user=newcomer).delete()  # made on its first grant or claim
    ids = east_backlog(org, make_customer, 30, "round_robin", now)
    reps = [org["rep_a"], org["rep_b"], newcomer]

    def runs(index: int) -> None:
        rnd = random.Random(index)
        for _ in range(4):
            run_assignment(
                org["admin"],
                dry_run=False,
                now=now,
                seed=index,
                customer_ids=rnd.sample(ids, 12),
                apply_mode=ApplyMode.SERVICE,
            )

    outcomes = runs_against_reps(org, ids, reps, runs, runs_each=4, releases=0.4, now=now)
    assert outcomes["run"] == 8, outcomes
    grants = OwnershipEvent.objects.filter(kind="assigned", actor_label__startswith="system:rule")
    assert grants.exists()  # the runs' path was taken (who got there first varies)
    for rep in reps:
        replay(rep.pk)
        assert Customer.objects.filter(owner=rep, status__in=["owned", "frozen"]).count() <= CAP
    report = run_checks()
    assert report.ok, (report.problems, report.examples)
