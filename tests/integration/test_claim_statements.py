"""A claim is three precompiled statements (the rep's lock on PostgreSQL, one read of every
fact, the compare-and-set and the ledger row: two on SQLite, one on PostgreSQL), whatever the
size of the book, and decides and schedules exactly as the ORM path does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from highseas.accounts.models import RepProfile
from highseas.customers.choices import CustomerStage, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.ownership import Status
from highseas.pools import ownership
from highseas.pools.models import OwnershipEvent, RecyclePolicy
from highseas.pools.schedule import schedule_for

pytestmark = pytest.mark.django_db


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
    ]


def test_a_claim_takes_three_statements(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    first, second = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2))
    ownership.claim(org["rep_a"], first.pk)  # warm the rep's profile and caches
    with CaptureQueriesContext(connection) as queries:
        outcome = ownership.claim(org["rep_a"], second.pk)
    statements = _statements(queries)
    # SQLite: facts, compare-and-set, ledger row (BEGIN IMMEDIATE is the lock); PostgreSQL:
    # the rep's row lock, facts, compare-and-set with its ledger row in one statement
    assert len(statements) == 3, "\n".join(statements)
    assert outcome.customer.owner_id == org["rep_a"].pk


def test_a_refused_claim_reads_and_writes_nothing_more(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    taken = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(org["rep_b"], taken.pk)
    with CaptureQueriesContext(connection) as queries, pytest.raises(HighSeasError) as refused:
        ownership.claim(org["rep_a"], taken.pk)
    assert refused.value.code == ErrorCode.ALREADY_OWNED
    assert refused.value.facts["holder"] == org["rep_b"].label
    assert not [s for s in _statements(queries) if s.startswith(("UPDATE", "INSERT"))]
    assert OwnershipEvent.objects.filter(customer=taken, to_owner=org["rep_a"]).count() == 0


def test_the_claimed_customer_is_scheduled_as_the_orm_path_schedules_it(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """A won customer with a won deal, a level override and an open-deal exemption: every
    input of the schedule comes from the one read."""
    pool = org["east_pool"]
    RecyclePolicy.objects.filter(pool=pool).update(
        idle_days=30,
        warn_days=5,
        won_repurchase_days=20,
        exempt_won=True,
        exempt_open_deal=True,
        level_overrides={"A": {"idle_days": 9, "warn_days": 2}},
    )
    now = timezone.now()
    won = make_customer(org["admin"], pool=pool, level="A", stage=CustomerStage.WON)
    Deal.objects.create(
        customer=won,
        amount=10,
        stage=DealStage.WON,
        won_at=now - timedelta(days=40),
        contract_end=now + timedelta(days=3),
        created_at=now - timedelta(days=50),
    )
    plain = make_customer(org["admin"], pool=pool, level="A")
    for customer in (won, plain):
        outcome = ownership.claim(org["rep_a"], customer.pk, now=now)
        stored = Customer.objects.select_related("pool__recycle_policy").get(pk=customer.pk)
        expected = schedule_for(
            stored, status=Status.OWNED, owned_since=stored.owned_since, pool=stored.pool
        )
        assert expected.due_at is not None
        assert (stored.recycle_due_at, stored.warn_at) == (expected.due_at, expected.warn_at)
        assert outcome.customer.recycle_due_at == expected.due_at
    assert Customer.objects.get(pk=won.pk).recycle_due_at == now + timedelta(days=23)
    assert Customer.objects.get(pk=plain.pk).recycle_due_at == now + timedelta(days=9)


def test_the_answer_is_the_customer_as_claimed_with_its_other_fields_on_demand(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"], phone="13800138000")
    outcome = ownership.claim(org["rep_a"], customer.pk, reason="老客户")
    claimed = outcome.customer
    assert (claimed.pk, claimed.name, claimed.status) == (customer.pk, customer.name, "owned")
    assert claimed.owner == org["rep_a"]
    assert claimed.phone == "13800138000"  # not read by the claim: loaded on first use
    event = OwnershipEvent.objects.get(customer=customer, kind="claimed")
    assert (event.reason, event.actor_label, event.from_pool_id) == (
        "老客户",
        "rep_a",
        org["east_pool"].pk,
    )
    assert event.policy_ref.startswith("claim_quota ")


def test_a_rep_without_a_profile_gets_one_with_the_claim(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    RepProfile.objects.filter(user=org["rep_a"]).delete()
    ownership.claim(org["rep_a"], customer.pk)
    assert RepProfile.objects.filter(user=org["rep_a"]).count() == 1


def test_a_merged_away_customer_is_not_found(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    kept, merged = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2))
    Customer.objects.filter(pk=merged.pk).update(merged_into=kept)
    with pytest.raises(HighSeasError) as refused:
        ownership.claim(org["rep_a"], merged.pk)
    assert refused.value.code == ErrorCode.NOT_FOUND


def _plan(sql: str, params: dict[str, Any]) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test's tables are tiny
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_claims_counts_read_the_rep_s_index_even_with_statistics_from_before_today(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """The ledger was last analyzed before today's claims (the usual case at 9:00): a plain
    ``at >= today`` is then estimated at no row and planned on the (time, …) index, which
    walks every claim of the day by anyone; the row comparison keeps the count on the rep's
    (rep, kind, time) index."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner")
    from highseas.pools import claim_statements
    from highseas.pools.rows import insert_rows

    customer = make_customer(org["admin"], pool=org["east_pool"])
    reps = [org["rep_a"].pk, org["rep_b"].pk, org["rep_c"].pk]
    fields = (
        *("customer", "kind", "from_status", "from_pool", "to_status", "to_owner"),
        *("actor_label", "reason", "policy_ref", "at"),
    )
    now = timezone.now()
    old = [
        (
            customer.pk,
            "claimed",
            "pooled",
            org["east_pool"].pk,
            "owned",
            reps[i % 3],
            *("rep", "bench", ""),
            now - timedelta(days=30, minutes=i),
        )
        for i in range(3000)
    ]
    insert_rows(OwnershipEvent, fields, old)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {OwnershipEvent._meta.db_table}")
    today = [(*row[:-1], now - timedelta(seconds=i)) for i, row in enumerate(old[:300])]
    insert_rows(OwnershipEvent, fields, today)
    start = now - timedelta(hours=1)
    params = {"customer": customer.pk, "rep": reps[0], "day": start, "week": start}
    plan = _plan(claim_statements._facts_sql("postgresql"), params)
    assert "ledger_claims_by_rep" in plan, plan
    assert "insights_ledger_day_counts" not in plan, plan
    # Before the rep's index held the pool (pools 0015), a plain ``e.at >= …`` was planned on
    # the (time, …) index here; now this small ledger no longer tempts the planner, and the
    # row comparison still keeps the walk on the rep's index whatever the statistics say.
