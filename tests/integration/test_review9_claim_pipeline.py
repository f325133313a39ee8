"""Review of the claim's pipelined read (PostgreSQL: BEGIN, the rep's lock and the facts read
in one psycopg pipeline; the claims counts through a row comparison on the (rep, kind, time)
index).

- The row comparison ``(to_owner_id, kind, at) >= (rep, 'claimed', day)`` is not ``at >= day``
  on its own (a later rep, or a later kind, of any time compares greater); it is only with
  ``to_owner_id = rep AND kind = 'claimed'`` beside it. The counts are checked against the
  ledger counted by the ORM with claims of reps whose ids sort below and above, kinds that
  sort below and above ``claimed``, and claims of yesterday and last week.
- An error inside the pipeline (the rep's lock refused by ``lock_timeout`` while another
  transaction holds it) refuses the claim with nothing written, and leaves the same
  connection usable: no transaction, no pipeline left open, and the next claim on it wins.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from highseas.accounts.models import RepProfile
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind
from highseas.engine.periods import day_start, week_start
from highseas.pools import claim_statements, facts, ownership
from highseas.pools.models import OwnershipEvent
from tests.prepared import prepared_statements

pytestmark = pytest.mark.django_db(transaction=True)
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's pipelined claim read"
)


def _event(customer: Customer, kind: str, to_owner: Any, at: Any, pool: Any) -> None:
    OwnershipEvent.objects.create(
        customer=customer,
        kind=kind,
        from_status="pooled",
        to_status="owned",
        to_owner=to_owner,
        from_pool=pool,
        reason="review",
        actor_label="system:review",
        at=at,
    )


def test_the_claims_counts_equal_the_ledger_s_for_every_rep_and_kind_ordering(
    org: dict[str, Any], make_user: Callable[..., Any], make_customer: Callable[..., Customer]
) -> None:
    """rep_b's counts among rows of a rep with a smaller id (rep_a), a larger id (a rep made
    after), kinds before (``assigned``) and after (``created``, ``transferred``) ``claimed``,
    and claims of yesterday and of last week: each count is the ledger's own."""
    pool = org["east_pool"]
    low, rep, high = org["rep_a"], org["rep_b"], make_user("rep", "rep_z", team=org["east"])
    assert low.pk < rep.pk < high.pk
    now = timezone.now()
    zone = timezone.get_default_timezone()
    day, week = day_start(now, zone), week_start(now, zone)
    customer = make_customer(org["admin"], pool=pool)
    times = [now, day, day - timedelta(seconds=1), week, week - timedelta(days=1), now]
    for owner in (low, rep, high):
        for kind in (EventKind.ASSIGNED, EventKind.CLAIMED, EventKind.CREATED, "transferred"):
            for at in times:
                _event(customer, str(kind), owner, at, pool)
    _event(customer, EventKind.CLAIMED, rep, now, org["south_pool"])  # another pool: not counted
    RepProfile.objects.get_or_create(user=rep)

    with transaction.atomic():
        row = claim_statements.read(rep, customer.pk, now)
    claims = OwnershipEvent.objects.filter(to_owner=rep, kind=EventKind.CLAIMED, from_pool=pool)
    assert row["today"] == claims.filter(at__gte=day).count() == 3  # now twice, and midnight
    assert row["week"] == claims.filter(at__gte=week).count() == sum(at >= week for at in times)


def _hold_rep_lock(rep_id: int, held: threading.Event, release: threading.Event) -> None:
    try:
        with transaction.atomic():
            facts.lock_reps(rep_id)
            held.set()
            release.wait(30)
    finally:
        connection.close()


@postgresql_only
def test_a_lock_refused_inside_the_pipeline_leaves_no_trace_and_a_usable_connection(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    rep = org["rep_a"]
    customer = make_customer(org["admin"], pool=org["east_pool"])
    RepProfile.objects.get_or_create(user=rep)  # the pipelined path
    events_before = OwnershipEvent.objects.count()
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_rep_lock, args=(rep.pk, held, release))
    holder.start()
    try:
        assert held.wait(30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        with pytest.raises(DatabaseError) as refused:
            ownership.claim(rep, customer.pk)
        assert "lock" in str(refused.value).lower()
    finally:
        release.set()
        holder.join(30)

    # nothing written, and the connection is left clean for the next request it serves
    assert not connection.in_atomic_block
    assert connection.connection.info.pipeline_status.name == "OFF"
    assert connection.connection.info.transaction_status.name == "IDLE"
    assert connection.is_usable()
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.owner_id, stored.status) == (None, "pooled")
    assert OwnershipEvent.objects.count() == events_before

    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")
    won = ownership.claim(rep, customer.pk).customer
    assert won is not None and won.owner_id == rep.pk
    assert OwnershipEvent.objects.filter(customer=customer, kind=EventKind.CLAIMED).count() == 1


@postgresql_only
def test_claims_failing_inside_the_pipeline_around_the_statements_preparation_stay_sound(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """psycopg prepares a statement on its fifth run (``prepare_threshold``); in a pipeline
    whose lock fails, the facts read after it is never run. Whatever run a failure falls on
    (before, at, after the preparation of either statement), the next claim on the same
    connection must not meet a statement the client believes prepared and the server never
    got ("prepared statement … does not exist"), and each refused claim leaves no trace."""
    import psycopg

    rep = org["rep_a"]
    RepProfile.objects.get_or_create(user=rep)
    # S: a claim that wins, F: one refused at the rep's lock. psycopg forgets what it prepared
    # after an error in a pipeline (DEALLOCATE ALL), so the runs after each failure count
    # again from one: the failures fall on prepared statements and on the run that prepares.
    pattern = "SSSSSSF" + "SSSSF" + "SSSSSF" + "FSSSSSS"
    customers = [
        make_customer(org["admin"], pool=org["east_pool"]) for _ in range(pattern.count("S") + 1)
    ]
    other = psycopg.connect(**connection.get_connection_params())
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '150ms'")
    waiting = iter(customers)
    try:
        for step, kind in enumerate(pattern):
            customer = next(waiting) if kind == "S" else customers[-1]
            if kind == "F":
                if step == 6:  # the first failure meets the lock statement prepared
                    assert prepared_statements("%FOR UPDATE%") >= 1
                other.execute(
                    "SELECT 1 FROM accounts_repprofile WHERE user_id = %s FOR UPDATE", [rep.pk]
                )
                with pytest.raises(DatabaseError) as refused:
                    ownership.claim(rep, customer.pk)
                assert "lock" in str(refused.value).lower(), (step, refused.value)
                other.rollback()
                assert Customer.objects.get(pk=customer.pk).owner_id is None
            else:
                won = ownership.claim(rep, customer.pk).customer
                assert won is not None and won.owner_id == rep.pk, step
        assert prepared_statements("%FOR UPDATE%") >= 1  # prepared again after the last failure
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    wins = pattern.count("S")
    assert Customer.objects.filter(owner=rep).count() == wins
    assert OwnershipEvent.objects.filter(to_owner=rep, kind=EventKind.CLAIMED).count() == wins
