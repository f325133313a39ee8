"""Backlog runs that hand their counts to ``assign_many`` (``bulk_assign.Loads``, trusted
while the ledger has not moved since) against every other writer of the same reps at once,
on real threads and connections: two set-based runs over the same backlog, a manager's
assigns, reps' claims and releases. Whatever the interleaving:

- every customer has at most one owner and every owner change has its ledger row
  (``invariants.run_checks``);
- replaying each rep's ledger in id order (the reps' locks serialize their writers, so their
  rows' ids follow their commits), no gain ever started from a holding at the cap, and no
  rule's assignment started from a day's assignments at the quota;
- nothing crashed and no ledger row names an action that was refused."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.pools import ownership
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool
from highseas.routing.models import AssignmentRule
from highseas.routing.runs import ApplyMode
from highseas.routing.services import run_assignment

pytestmark = pytest.mark.django_db(transaction=True)

CAP, QUOTA = 4, 3


def limit(pool: Pool) -> None:
    pool.claim_policy.holding_cap = CAP
    pool.claim_policy.daily_quota = QUOTA
    pool.claim_policy.save()


def replay(rep_id: int) -> None:
    """Walk the rep's ledger rows in id order and check the cap and the quota at each gain."""
    held = 0
    assigned = 0
    for event in OwnershipEvent.objects.order_by("id"):
        gains = event.to_owner_id == rep_id and event.from_owner_id != rep_id
        loses = event.from_owner_id == rep_id and event.to_owner_id != rep_id
        if gains:
            assert held < CAP, ("gained at the cap", event.pk, event.kind, event.actor_label)
            if event.kind == "assigned" and event.actor_label.startswith("system:rule"):
                assert assigned < QUOTA, ("assigned past the quota", event.pk)
            held += 1
            if event.kind == "assigned":
                assigned += 1
        elif loses:
            held -= 1


def east_backlog(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
    count: int,
    strategy: str,
    now: datetime,
) -> list[int]:
    """``count`` customers pooled a day ago in the east pool, limited to ``CAP`` and ``QUOTA``,
    and one rule giving them to the east team by ``strategy``; their ids."""
    pool = org["east_pool"]
    limit(pool)
    customers = [
        make_customer(org["admin"], pool=pool, now=now - timedelta(days=1)) for _ in range(count)
    ]
    AssignmentRule.objects.create(
        name="华东",
        position=0,
        conditions={},
        target={"team": org["east"].pk, "strategy": strategy},
    )
    return [c.pk for c in customers]


def runs_against_reps(
    org: dict[str, Any],
    ids: list[int],
    reps: list[Any],
    runs: Callable[[int], None],
    *,
    runs_each: int,
    releases: float,
    now: datetime,
) -> Counter[str]:
    """Six threads released together, each on its own connection: two call ``runs(index)``
    (``runs_each`` runs, tallied ``run``), two have the reps claim random customers of ``ids``,
    two have them release some (share ``releases``) and the east manager assign the others to
    them; tallies ``ok`` or the refusal's code. A crash fails the test."""
    outcomes: Counter[str] = Counter()
    seen = threading.Lock()
    barrier = threading.Barrier(6)

    def tally(what: str, times: int = 1) -> None:
        with seen:
            outcomes[what] += times

    def act(index: int) -> None:
        rnd = random.Random(index)
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            if index < 2:
                runs(index)
                tally("run", runs_each)
                return
            for _ in range(25):
                customer_id = rnd.choice(ids)
                rep = reps[index % len(reps)]
                try:
                    if index < 4:
                        ownership.claim(rep, customer_id, now=now)
                    elif rnd.random() < releases:
                        ownership.release(rep, customer_id, reason="review", now=now)
                    else:
                        ownership.assign(org["east_manager"], customer_id, rep, now=now)
                    tally("ok")
                except HighSeasError as refusal:
                    tally(refusal.code.value)
        except Exception as crash:  # shown by the assertion below
            tally(f"crash: {crash!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not [k for k in outcomes if k.startswith("crash")], outcomes
    return outcomes


def test_two_backlog_runs_claims_releases_and_manager_assigns_keep_caps_quotas_and_ledger(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    now = timezone.now()
    ids = east_backlog(org, make_customer, 24, "least_loaded", now)
    reps = [org["rep_a"], org["rep_b"]]

    def runs(index: int) -> None:
        for _ in range(3):
            run_assignment(
                org["admin"],
                dry_run=False,
                now=now,
                seed=index,
                batch_size=3,
                apply_mode=ApplyMode.BULK,
            )

    outcomes = runs_against_reps(org, ids, reps, runs, runs_each=3, releases=0.3, now=now)
    assert outcomes["run"] == 6, outcomes
    for rep in reps:
        replay(rep.pk)
        assert Customer.objects.filter(owner=rep, status__in=["owned", "frozen"]).count() <= CAP
    assert outcomes["ok"] > 0, outcomes  # the runs' own grants depend on who got there first
    report = run_checks()
    assert report.ok, (report.problems, report.examples)
