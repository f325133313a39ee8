"""The single-customer paths' statements hold the same facts and write the same rows as the
ORM's, on both databases:

- the claim's read counts a rep's holdings (all, and those not won) and claims (today, this
  week, from the customer's pool only) in one walk each, and each count is the ORM's, for
  every rep, with owned and frozen customers of each stage and pooled ones beside them; the
  rule's read counts holdings the same;
- a claim at exactly the holding cap is refused and one under it passes (the count is the
  cap's);
- ``notify_many``'s precompiled ``INSERT`` writes, field by field, the rows the ORM's
  ``bulk_create`` of the same drafts wrote, and queues the same deliveries;
- ``cursors.save`` writes every moved pointer in one statement, with the versions the
  per-row compare-and-set wrote, and a stale version refuses the whole save.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from highseas.accounts.models import RepProfile
from highseas.customers.choices import CustomerStage, CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.ownership import EventKind
from highseas.engine.periods import day_start, week_start
from highseas.notify.models import Delivery, Notification
from highseas.notify.outbox import enqueue_many
from highseas.notify.services import _build, notify_many
from highseas.notify.texts import SystemText
from highseas.pools import assign_statements, claim_statements, facts, ownership, reasons
from highseas.pools.authority import RuleAuthority
from highseas.pools.models import ClaimPolicy, OwnershipEvent
from highseas.pools.reasons import Reason
from highseas.pools.rows import insert_rows
from highseas.routing import cursors
from highseas.routing.models import AssignmentRule, RoutingCursor

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]


def _hold(customer: Customer, status: str, stage: str) -> None:
    now = timezone.now()
    frozen = now + timedelta(days=3) if status == CustomerStatus.FROZEN else None
    Customer.objects.filter(pk=customer.pk).update(status=status, stage=stage, frozen_until=frozen)


def _claimed(customer: Customer, rep: Any, pool: Any, at: Any) -> None:
    OwnershipEvent.objects.create(
        customer=customer,
        kind=EventKind.CLAIMED,
        from_status="pooled",
        to_status="owned",
        to_owner=rep,
        from_pool=pool,
        reason="test",
        actor_label="system:test",
        at=at,
    )


def test_every_count_of_the_claim_and_rule_reads_is_the_orm_s(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    pool, other = org["east_pool"], org["south_pool"]
    reps = [org["rep_a"], org["rep_b"], org["rep_c"]]
    for rep in reps:
        RepProfile.objects.get_or_create(user=rep)
    stages = [CustomerStage.PROSPECT, CustomerStage.WON, CustomerStage.LOST]
    for index, rep in enumerate(reps):  # a different book for each rep
        for status in (CustomerStatus.OWNED, CustomerStatus.FROZEN):
            for stage in stages[: index + 1]:
                _hold(make_customer(org["admin"], owner=rep), status, stage)
    make_customer(org["admin"], pool=pool, stage=CustomerStage.WON)  # pooled: no one's
    target = make_customer(org["admin"], pool=pool)
    now = timezone.now()
    zone = timezone.get_default_timezone()
    day, week = day_start(now, zone), week_start(now, zone)
    times = [now, day, day - timedelta(seconds=1), week, week - timedelta(seconds=1)]
    for index, rep in enumerate(reps):
        for at in times[: index + 3]:
            _claimed(target, rep, pool, at)
            _claimed(target, rep, other, at)  # another pool's: never counted

    for rep in reps:
        with transaction.atomic():
            row = claim_statements.read(rep, target.pk, now)
            rule_row = assign_statements._read_for_rule(rep, target.pk, now)
        assert rule_row is not None
        held = facts.holdings(rep.pk, count_won=True)
        held_open = facts.holdings(rep.pk, count_won=False)
        assert (row["held"], row["held_open"]) == (held, held_open)
        assert (rule_row["held"], rule_row["held_open"]) == (held, held_open)
        assert (row["today"], row["week"]) == facts.claims_in_periods(rep.pk, pool.pk, now, zone)
    assert [claim_statements.read(r, target.pk, now)["held_open"] for r in reps] == [2, 2, 4]
    assert [claim_statements.read(r, target.pk, now)["today"] for r in reps] == [2, 2, 2]
    weeks = [sum(at >= week for at in times[: index + 3]) for index in range(3)]
    assert [claim_statements.read(r, target.pk, now)["week"] for r in reps] == weeks
    assert weeks[2] == weeks[1] >= 3  # the claim a second before the week is not counted


@pytest.mark.parametrize("count_won", [True, False])
def test_a_claim_at_exactly_the_cap_is_refused_and_one_under_it_passes(
    org: dict[str, Any], make_customer: MakeCustomer, count_won: bool
) -> None:
    pool, rep = org["east_pool"], org["rep_a"]
    ClaimPolicy.objects.update_or_create(
        pool=pool, defaults={"holding_cap": 3, "count_won_in_cap": count_won}
    )
    for stage in (CustomerStage.PROSPECT, CustomerStage.WON):
        _hold(make_customer(org["admin"], owner=rep), CustomerStatus.OWNED, stage)
    first, second = (make_customer(org["admin"], pool=pool) for _ in range(2))
    ownership.claim(rep, first.pk)  # under the cap either way (1 or 2 held)
    if count_won:
        with pytest.raises(HighSeasError) as refused:
            ownership.claim(rep, second.pk)  # 3 held, the cap
        assert refused.value.code == ErrorCode.HOLDING_CAP_REACHED
        assert Customer.objects.get(pk=second.pk).owner_id is None
    else:
        ownership.claim(rep, second.pk)  # 2 held that are not won
        assert Customer.objects.get(pk=second.pk).owner_id == rep.pk


def _plan(sql: str, params: dict[str, Any]) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


FIELDS = [
    f.attname for f in Notification._meta.concrete_fields if f.name not in ("id", "created_at")
]


def _drafts(org: dict[str, Any], customer: Customer) -> list[Any]:
    return [
        (org["rep_a"].pk, EventKind.ASSIGNED.value, "A customer was given to you", "甲", None),
        (org["rep_b"].pk, "released", "x" * 250, "", customer.pk),
        (
            org["rep_c"].pk,
            "warning",
            SystemText("%(n)s customers will go back", {"n": 3}),
            SystemText("Due %(when)s", {"when": "周一"}, extra="客户甲\n客户乙"),
            customer.pk,
        ),
    ]


@override_settings(HIGHSEAS_WEBHOOK_URL="https://hooks.example.com/crm")
def test_notify_many_writes_the_rows_and_deliveries_the_orm_wrote(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    drafts = _drafts(org, customer)
    with transaction.atomic():
        reference = Notification.objects.bulk_create([_build(*d) for d in drafts])
        enqueue_many(reference)
    before = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        ids = notify_many(drafts)
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 2  # the notifications, then their deliveries
    assert len(ids) == len(drafts) and ids == sorted(ids)
    made = {n.pk: n for n in Notification.objects.filter(pk__in=ids)}
    for old, new_id in zip(reference, ids, strict=True):
        old.refresh_from_db()
        new = made[new_id]
        assert {f: getattr(new, f) for f in FIELDS} == {f: getattr(old, f) for f in FIELDS}
        assert before <= new.created_at <= timezone.now()
        assert new.shown_title == old.shown_title and new.shown_body == old.shown_body
        old_sent = Delivery.objects.filter(notification=old).values("channel", "target", "state")
        new_sent = Delivery.objects.filter(notification=new)
        assert list(new_sent.values("channel", "target", "state")) == list(old_sent)
        assert [d.next_attempt_at for d in new_sent] == [new.created_at]
    assert len(made[ids[1]].title) == 200


def test_notify_many_without_channels_queues_nothing_and_answers_nothing_for_no_drafts(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    assert notify_many([]) == []
    ids = notify_many(_drafts(org, customer))
    assert Notification.objects.filter(pk__in=ids).count() == 3
    assert not Delivery.objects.filter(notification_id__in=ids).exists()


def test_cursors_save_writes_every_moved_pointer_in_one_statement(org: dict[str, Any]) -> None:
    rules = [
        AssignmentRule.objects.create(name=f"r{i}", position=i, target={}, conditions={})
        for i in range(3)
    ]
    keys = [(rule.pk, team.pk) for rule in rules for team in (org["east"], org["south"])]
    with transaction.atomic():
        cursors.ensure(keys)
        rows = cursors.lock(keys)
        moved = {key: {"next": index, "credits": {"7": 1.5}} for index, key in enumerate(keys[:4])}
        with CaptureQueriesContext(connection) as queries:
            cursors.save(rows, moved)
        assert len(queries.captured_queries) == 1
    stored = {(r.rule_id, r.team_id): r for r in RoutingCursor.objects.all()}
    for key in keys:
        expected = (moved[key], 1) if key in moved else ({}, 0)
        assert (stored[key].state, stored[key].version) == expected
        assert (rows[key].state, rows[key].version) == expected


def test_a_stale_pointer_refuses_the_whole_save(org: dict[str, Any]) -> None:
    rules = [
        AssignmentRule.objects.create(name=f"r{i}", position=i, target={}, conditions={})
        for i in range(2)
    ]
    keys = [(rule.pk, org["east"].pk) for rule in rules]
    cursors.ensure(keys)
    rows = cursors.lock(keys)
    RoutingCursor.objects.filter(rule=rules[1]).update(version=5)  # another run moved it
    with pytest.raises(HighSeasError) as refused, transaction.atomic():
        cursors.save(rows, {key: {"next": 1} for key in keys})
    assert refused.value.code == ErrorCode.STATE_CONFLICT
    assert refused.value.facts == {"rule": rules[1].pk, "team": org["east"].pk}
    assert sorted(RoutingCursor.objects.values_list("version", flat=True)) == [0, 5]
    assert list(RoutingCursor.objects.values_list("state", flat=True)) == [{}, {}]


LEDGER_FIELDS = (
    *("customer", "kind", "from_status", "from_pool", "to_status", "to_owner"),
    *("actor_label", "reason", "policy_ref", "at"),
)


def _facts_params(customer: Customer, rep: Any, now: datetime) -> dict[str, Any]:
    """The claim facts statement's parameters, the day's and week's starts as ``read``
    passes them."""
    zone = timezone.get_default_timezone()
    day, week = claim_statements._periods(
        connection.vendor, day_start(now, zone), week_start(now, zone)
    )
    return {"customer": customer.pk, "rep": rep.pk, "day": day, "week": week}


def test_the_claims_counts_walk_the_rep_s_index_not_the_pool_s_with_stale_statistics(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """The ledger was analyzed before anyone claimed from the pool (the usual case at 9:00):
    with the pool as a condition of the walk, the planner took the ledger's pool index, i.e.
    every claim of the pool by anyone (seen on the bench's 200k ledger; a test's small ledger
    does not tempt it); as a filter of the counts it walks the rep's (rep, kind, time) index,
    and the counts stay the pool's."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner")

    pool, rep = org["east_pool"], org["rep_a"]
    RepProfile.objects.get_or_create(user=rep)
    customer = make_customer(org["admin"], pool=pool)
    now = timezone.now()
    others = [org["rep_b"].pk, org["rep_c"].pk]
    created = [(customer.pk, "created", "", None, "pooled", None, "rep", "bench", "", now)]
    created *= 3000  # a ledger of no one's claims yet
    insert_rows(OwnershipEvent, LEDGER_FIELDS, created)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {OwnershipEvent._meta.db_table}")
    rush = [
        (customer.pk, "claimed", "pooled", pool.pk, "owned", others[i % 2], "rep", "b", "", now)
        for i in range(2000)
    ]
    for claimed_from in (pool, org["south_pool"]):  # the rep's own: one from each pool
        rush.append((customer.pk, "claimed", "pooled", claimed_from.pk, "owned", rep.pk))
        rush[-1] += ("rep", "b", "", now)
    insert_rows(OwnershipEvent, LEDGER_FIELDS, rush)
    params = _facts_params(customer, rep, now)
    sql = claim_statements._facts_sql("postgresql")
    (pool_index,) = [
        index.name for index in OwnershipEvent._meta.indexes if index.fields == ["from_pool"]
    ]
    plan = _plan(sql, params)
    assert "ledger_claims_by_rep" in plan, plan
    assert pool_index not in plan, plan
    with transaction.atomic():
        row = claim_statements.read(rep, customer.pk, now)
    assert (row["today"], row["week"]) == (1, 1)


def test_on_sqlite_the_rep_s_claims_are_counted_from_the_index_alone(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """The (rep, kind, time, pool) index holds what the counts read (pools 0015): the walk
    over the rep's claims of the week looks up no ledger row (``claim_statements``). The
    counts stay the pool's."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner")
    pool, rep = org["east_pool"], org["rep_a"]
    RepProfile.objects.get_or_create(user=rep)
    customer = make_customer(org["admin"], pool=pool)
    now = timezone.now()
    claims = [  # the rep's own: one from each pool
        (customer.pk, "claimed", "pooled", claimed_from.pk, "owned", rep.pk, "rep", "b", "", now)
        for claimed_from in (pool, org["south_pool"])
    ]
    insert_rows(OwnershipEvent, LEDGER_FIELDS, claims)
    params = _facts_params(customer, rep, now)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + claim_statements._facts_sql("sqlite"), params)
        plan = "\n".join(row[3] for row in cursor.fetchall())
    assert "COVERING INDEX ledger_claims_by_rep" in plan, plan
    with transaction.atomic():
        row = claim_statements.read(rep, customer.pk, now)
    assert (row["today"], row["week"]) == (1, 1)


def test_a_rule_s_grant_answers_the_customer_as_written_and_loads_the_rest_on_use(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """The rule's fast path answers its customer from what it read and wrote (no row read
    back): the fields its notification reads are the row's, and any other loads the row's
    value on first use (the contact fields decrypted as the ORM decrypts them)."""
    pool, rep = org["east_pool"], org["rep_a"]
    RepProfile.objects.get_or_create(user=rep)
    customer = make_customer(org["admin"], pool=pool)
    authority = RuleAuthority(1, "规则", pool.pk, frozenset([rep.pk]))
    with transaction.atomic():
        given = assign_statements.assign_by_rule(
            authority,
            customer.pk,
            rep,
            reason=Reason(reasons.RULE_ASSIGNED, {"rule": "规则", "run": 0}),
            daily_quota=None,
            now=timezone.now(),
        )
    assert given is not None
    stored = Customer.objects.get(pk=customer.pk)
    brief = claim_statements.BRIEF_ROW
    assert given.get_deferred_fields() == {
        f.attname for f in Customer._meta.concrete_fields if f.attname not in brief
    }
    assert [getattr(given, f) for f in brief] == [getattr(stored, f) for f in brief]
    assert (given.status, given.owner_id) == ("owned", rep.pk)
    assert (given.phone, given.email, given.owned_since) == (
        stored.phone,
        stored.email,
        stored.owned_since,
    )
    assert assign_statements.assigned_drafts([given])[0][3:] == (stored.name, stored.pk)
