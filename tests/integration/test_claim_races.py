"""A claim's read of the rep's counts comes after the rep's lock, on real connections: on
PostgreSQL the lock and the read travel in one round trip (psycopg's pipeline mode), yet the
server runs the read only once the lock is granted, so it sees a claim committed while it
waited. And a compare-and-set that loses to another rep's claim between the read and the
write leaves no trace."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from highseas.accounts.models import RepProfile
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import claim_statements, facts, ownership
from highseas.pools.models import ClaimPolicy, OwnershipEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_a_lock(seconds: float = 10.0) -> None:
    """Return once another connection waits for a lock (PostgreSQL), or after a moment in
    which the second writer reaches SQLite's write lock (busy wait)."""
    if connection.vendor != "postgresql":
        time.sleep(0.3)
        return
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # kept per transaction else
            cursor.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the second claim never waited for the rep's lock")


def _claim_in_thread(rep: Any, customer_id: int, outcome: dict[str, Any]) -> threading.Thread:
    def run() -> None:
        try:
            outcome["customer"] = ownership.claim(rep, customer_id).customer
        except HighSeasError as refusal:
            outcome["refusal"] = refusal
        except Exception as crash:  # shown by the assertion, never swallowed
            outcome["crash"] = crash
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("limit", "code"),
    [
        ({"holding_cap": 1}, ErrorCode.HOLDING_CAP_REACHED),
        ({"daily_quota": 1}, ErrorCode.CLAIM_QUOTA_EXCEEDED),
        ({"weekly_quota": 1}, ErrorCode.CLAIM_QUOTA_EXCEEDED),
    ],
)
def test_a_claim_waiting_for_the_rep_s_lock_counts_the_claim_committed_meanwhile(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
    limit: dict[str, int],
    code: ErrorCode,
) -> None:
    """The first claim holds the rep's lock until the second waits for it, then commits: the
    second's counts, read after the lock, include the first, so it is refused at the limit
    of one. Counts read before the lock (or with the transaction's first snapshot) would let
    it through."""
    rep = org["rep_a"]
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(**limit)
    first, second = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2))
    RepProfile.objects.get_or_create(user=rep)  # the second claim takes the pipelined path
    outcome: dict[str, Any] = {}
    with transaction.atomic():
        facts.lock_reps(rep.pk)
        ownership.claim(rep, first.pk)
        thread = _claim_in_thread(rep, second.pk, outcome)
        _waiting_on_a_lock()
    thread.join(timeout=30)
    assert "crash" not in outcome, outcome
    assert "refusal" in outcome, outcome
    assert outcome["refusal"].code == code
    assert Customer.objects.get(pk=second.pk).owner_id is None
    assert not OwnershipEvent.objects.filter(customer=second, kind="claimed").exists()
    assert Customer.objects.filter(owner=rep).count() == 1


def test_a_lost_compare_and_set_names_the_winner_and_leaves_no_trace(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: Any
) -> None:
    """Another rep (another lock) claims the customer between this claim's read and its
    compare-and-set: the claim is refused ``already_owned`` naming the winner, and writes
    neither the customer nor a ledger row. PostgreSQL only: SQLite's write transaction
    keeps every other writer out between the two."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers: nobody can claim between read and write")
    customer = make_customer(org["admin"], pool=org["east_pool"])
    real_read = claim_statements.read
    winner: dict[str, Any] = {}

    def read_then_lose(claimant: Any, customer_id: int, now: Any) -> dict[str, Any]:
        row = real_read(claimant, customer_id, now)
        if claimant == org["rep_a"]:
            _claim_in_thread(org["rep_b"], customer_id, winner).join(timeout=30)
        return row

    monkeypatch.setattr(claim_statements, "read", read_then_lose)
    with pytest.raises(HighSeasError) as refused:
        ownership.claim(org["rep_a"], customer.pk)
    assert "customer" in winner, winner
    assert refused.value.code == ErrorCode.ALREADY_OWNED
    assert refused.value.facts["holder"] == org["rep_b"].label
    assert Customer.objects.get(pk=customer.pk).owner_id == org["rep_b"].pk
    claims = OwnershipEvent.objects.filter(customer=customer, kind="claimed")
    assert [event.to_owner_id for event in claims] == [org["rep_b"].pk]


def test_a_claim_by_a_rep_without_a_profile_is_locked_and_read_again(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """The pipelined lock found no profile row: the claim creates it, locks it, and reads the
    facts again under that lock; the holding cap still holds, and the refusal leaves no trace
    (not even the profile)."""
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=1)
    first, second = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2))
    ownership.claim(org["rep_a"], first.pk)
    RepProfile.objects.filter(user=org["rep_a"]).delete()
    with pytest.raises(HighSeasError) as refused:
        ownership.claim(org["rep_a"], second.pk)
    assert refused.value.code == ErrorCode.HOLDING_CAP_REACHED
    assert not RepProfile.objects.filter(user=org["rep_a"]).exists()
    assert Customer.objects.get(pk=second.pk).owner_id is None
