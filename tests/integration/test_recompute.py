"""Recomputing a pool's recycle schedules in bulk gives what the engine computes per customer,
touches only the pool's owned customers, and costs the same number of queries for any size;
it commits batch by batch, and a walk killed between two is finished by the periodic run."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.accounts.models import AuditLog, User
from highseas.config.pacing import Pacer
from highseas.customers.choices import CustomerLevel, CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.ownership import Status
from highseas.pools import leases, ownership, recompute, scheduler
from highseas.pools.models import Pool, RecyclePolicy, ScheduleRecompute
from highseas.pools.recompute import recompute_pool_schedules, start_recompute
from highseas.pools.schedule import schedule_for
from highseas.pools.schedule_check import check_schedules
from highseas.pools.services import save_pool
from highseas.pools.sweep import sweep

pytestmark = pytest.mark.django_db

START = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
LEVELS = CustomerLevel.values
_names = itertools.count(1)

limits = st.none() | st.integers(min_value=0, max_value=60)
overrides = st.dictionaries(
    st.sampled_from(["idle_days", "no_deal_days", "first_contact_hours", "warn_days"]),
    limits,
    max_size=4,
)
policies = st.fixed_dictionaries(
    {
        "idle_days": limits,
        "no_deal_days": limits,
        "first_contact_hours": limits,
        "warn_days": limits,
        "exempt_won": st.booleans(),
        "exempt_open_deal": st.booleans(),
        "exempt_levels": st.lists(st.sampled_from(LEVELS), unique=True, max_size=2),
        "level_overrides": st.dictionaries(st.sampled_from(LEVELS), overrides, max_size=3),
    }
)
offsets = st.timedeltas(min_value=timedelta(days=-90), max_value=timedelta(days=90))
near = st.sampled_from([timedelta(0), timedelta(microseconds=1), timedelta(microseconds=-1)])


@dataclass(frozen=True)
class Shape:
    """One generated owned customer, its times given relative to ``owned_since``."""

    level: str
    is_won: bool
    owned_since: datetime
    effective_after: timedelta | None
    activity_after: timedelta | None
    deal_stages: list[str]


shapes = st.builds(
    Shape,
    level=st.sampled_from(LEVELS),
    is_won=st.booleans(),
    owned_since=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2024, 12, 31), timezones=st.just(UTC)
    ),
    effective_after=st.none() | offsets | near,
    activity_after=st.none() | offsets | near,
    deal_stages=st.lists(st.sampled_from(DealStage.values), max_size=3),
)


def create_owned(pool: Pool, owner: User, shape: Shape) -> Customer:
    since = shape.owned_since
    customer = Customer.objects.create(
        name=f"客户{next(_names)}",
        level=shape.level,
        stage=CustomerStage.WON if shape.is_won else CustomerStage.QUALIFIED,
        created_at=since - timedelta(days=1),
        status=CustomerStatus.OWNED,
        owner=owner,
        pool=pool,
        owned_since=since,
        last_effective_activity_at=None
        if shape.effective_after is None
        else since + shape.effective_after,
        last_activity_at=None if shape.activity_after is None else since + shape.activity_after,
    )
    for stage in shape.deal_stages:
        Deal.objects.create(
            customer=customer,
            amount=1000,
            stage=stage,
            won_at=START if stage == DealStage.WON else None,
            lost_at=START if stage == DealStage.LOST else None,
            created_at=START,
        )
    return customer


def expected(customer: Customer, pool: Pool) -> tuple[datetime | None, datetime | None]:
    plan = schedule_for(customer, status=Status.OWNED, owned_since=customer.owned_since, pool=pool)
    return plan.due_at, plan.warn_at


def schedules(pool: Pool) -> dict[int, tuple[datetime | None, datetime | None]]:
    rows = Customer.objects.filter(pool=pool).values_list("id", "recycle_due_at", "warn_at")
    return {pk: (due, warn) for pk, due, warn in rows}


@pytest.fixture
def pool(make_pool: Callable[..., Pool]) -> Pool:
    return make_pool()


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    policy=policies,
    customers=st.lists(shapes, max_size=12),
    batch_size=st.integers(min_value=1, max_value=13),
)
def test_bulk_recompute_equals_the_engine_for_every_customer(
    pool: Pool, owner: User, policy: dict[str, Any], customers: list[Shape], batch_size: int
) -> None:
    with transaction.atomic():
        RecyclePolicy.objects.filter(pool=pool).update(**policy)
        created = [create_owned(pool, owner, shape) for shape in customers]

        assert recompute_pool_schedules(pool, batch_size=batch_size) == len(created)
        assert not ScheduleRecompute.objects.exists()

        fresh_pool = Pool.objects.select_related("recycle_policy").get(pk=pool.pk)
        got = schedules(pool)
        for customer in Customer.objects.filter(pk__in=[c.pk for c in created]):
            assert got[customer.pk] == expected(customer, fresh_pool), (policy, customer.pk)
        transaction.set_rollback(True)


@pytest.fixture
def idle_pool(pool: Pool) -> Pool:
    RecyclePolicy.objects.filter(pool=pool).update(idle_days=7, warn_days=2, first_contact_hours=5)
    return pool


def make_others(pool: Pool, owner: User, stale: datetime) -> list[Customer]:
    """A pooled and a frozen customer of the pool, each with a stale schedule that a write
    would clear."""
    others = [
        Customer.objects.create(
            name=f"客户{next(_names)}", created_at=START, status=CustomerStatus.POOLED, pool=pool
        ),
        Customer.objects.create(
            name=f"客户{next(_names)}",
            created_at=START,
            status=CustomerStatus.FROZEN,
            pool=pool,
            owner=owner,
            owned_since=START,
            frozen_until=START + timedelta(days=30),
        ),
    ]
    Customer.objects.filter(pk__in=[c.pk for c in others]).update(
        recycle_due_at=stale, warn_at=stale
    )
    return others


def test_pooled_and_frozen_customers_are_not_touched(idle_pool: Pool, owner: User) -> None:
    stale = START + timedelta(days=99)
    others = make_others(idle_pool, owner, stale)
    owned = create_owned(idle_pool, owner, Shape("A", False, START, None, None, []))

    assert recompute_pool_schedules(idle_pool) == 1

    got = schedules(idle_pool)
    assert [got[c.pk] for c in others] == [(stale, stale), (stale, stale)]
    # due 5 hours after the claim, inside the 2-day warning window: warned half-way
    assert got[owned.pk] == (START + timedelta(hours=5), START + timedelta(hours=2.5))


def test_an_activity_at_the_moment_of_ownership_counts_as_first_contact(
    idle_pool: Pool, owner: User
) -> None:
    at_once = create_owned(idle_pool, owner, Shape("A", False, START, None, timedelta(0), []))
    just_before = Shape("A", False, START, None, timedelta(microseconds=-1), [])
    too_early = create_owned(idle_pool, owner, just_before)

    recompute_pool_schedules(idle_pool)

    got = schedules(idle_pool)
    assert got[at_once.pk][0] == START + timedelta(days=7)
    assert got[too_early.pk][0] == START + timedelta(hours=5)


def test_customers_of_another_pool_are_left_alone(
    idle_pool: Pool, owner: User, make_pool: Callable[..., Pool]
) -> None:
    other_pool = make_pool(recycle_policy={"idle_days": 30})
    elsewhere = create_owned(other_pool, owner, Shape("A", False, START, None, None, []))
    stale = START + timedelta(days=99)
    Customer.objects.filter(pk=elsewhere.pk).update(recycle_due_at=stale, warn_at=stale)

    recompute_pool_schedules(idle_pool)

    assert schedules(other_pool) == {elsewhere.pk: (stale, stale)}


def test_saving_a_new_idle_limit_moves_the_due_dates(idle_pool: Pool, owner: User) -> None:
    contacted = Shape("B", False, START, timedelta(days=1), timedelta(days=1), [])
    customer = create_owned(idle_pool, owner, contacted)
    recompute_pool_schedules(idle_pool)
    assert schedules(idle_pool)[customer.pk][0] == START + timedelta(days=8)

    save_pool(idle_pool, recycle_policy={"idle_days": 20, "warn_days": 3})

    assert schedules(idle_pool)[customer.pk] == (
        START + timedelta(days=21),
        START + timedelta(days=18),
    )


def test_removing_every_limit_unschedules_the_owned_customers(idle_pool: Pool, owner: User) -> None:
    customer = create_owned(idle_pool, owner, Shape("C", False, START, None, None, []))
    recompute_pool_schedules(idle_pool)
    assert schedules(idle_pool)[customer.pk] != (None, None)

    save_pool(
        idle_pool,
        recycle_policy={"idle_days": None, "first_contact_hours": None, "warn_days": None},
    )

    assert schedules(idle_pool)[customer.pk] == (None, None)


BUSY_POLICY = {
    "idle_days": 10,
    "no_deal_days": 30,
    "first_contact_hours": 24,
    "warn_days": 3,
    "exempt_won": False,
    "exempt_open_deal": True,
    "exempt_levels": ["C"],
    "level_overrides": {"A": {"idle_days": 20}, "B": {"first_contact_hours": None}},
}


def fill(pool: Pool, owner: User, customers: int) -> None:
    """Owned customers of every level, won or not, contacted or not, with or without deals."""
    for i in range(customers):
        shape = Shape(
            level=LEVELS[i % 3],
            is_won=i % 2 == 0,
            owned_since=START + timedelta(hours=i),
            effective_after=None if i % 5 == 0 else timedelta(days=i % 7 - 3),
            activity_after=None if i % 4 == 0 else timedelta(days=i % 3 - 1),
            deal_stages=[DealStage.PROPOSAL] if i % 6 == 0 else [],
        )
        create_owned(pool, owner, shape)


def updates(captured: CaptureQueriesContext) -> int:
    return sum(q["sql"].startswith("UPDATE") for q in captured.captured_queries)


def test_the_number_of_queries_does_not_grow_with_the_customers(
    pool: Pool, owner: User, django_assert_max_num_queries: Any
) -> None:
    RecyclePolicy.objects.filter(pool=pool).update(**BUSY_POLICY)
    fill(pool, owner, 20)
    with CaptureQueriesContext(connection) as few:
        assert recompute_pool_schedules(pool) == 20
    fill(pool, owner, 180)

    with django_assert_max_num_queries(len(few)) as many:
        assert recompute_pool_schedules(pool) == 200

    assert len(many) == len(few)
    # the reset, then per level: A (4 parts: won or not × contacted or not), B (2 parts: won or
    # not, its override drops the first-contact limit), C exempt; then the late warnings of
    # customers whose due time was inside the warning window at the claim, in one bulk write
    assert updates(many) == updates(few) == 8


# Batches


def mismatches(now: datetime) -> list[str]:
    """What ``highseas check`` says of the stored schedules."""
    found: list[str] = []
    check_schedules(lambda kind, example: found.append(f"{kind}: {example}"), now)
    return found


def owned_for_days(pool: Pool, owner: User, count: int, days: float) -> list[Customer]:
    """``count`` owned customers of ``pool``, never followed up, owned ``days`` days ago."""
    since = timezone.now() - timedelta(days=days)
    shape = Shape("A", False, since, None, None, [])
    return [create_owned(pool, owner, shape) for _ in range(count)]


@pytest.mark.django_db(transaction=True)
def test_a_policy_change_commits_batch_by_batch_and_claims_pass_between(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, rep = org["east_pool"], org["rep_a"]
    save_pool(pool, recycle_policy={"idle_days": 7, "warn_days": 2})
    walked = owned_for_days(pool, org["rep_b"], 25, 1)
    pooled = [
        Customer.objects.create(
            name=f"客户{next(_names)}", created_at=START, status=CustomerStatus.POOLED, pool=pool
        )
        for _ in range(3)
    ]
    marks: list[int | None] = []
    claimed: list[int] = []
    size = Pacer.size

    def between_batches(pacer: Pacer) -> int:
        """Another connection, before each batch: it sees the mark the last batch committed,
        and claims without waiting for the walk."""

        def other() -> None:
            try:
                mark = ScheduleRecompute.objects.filter(pool=pool).first()
                marks.append(mark.done_to if mark else None)
                customer = pooled[len(claimed)]
                ownership.claim(rep, customer.pk)
                claimed.append(customer.pk)
            finally:
                connection.close()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive()
        return size(pacer)

    monkeypatch.setattr(Pacer, "size", between_batches)
    monkeypatch.setattr(recompute, "BATCH_SIZE", 10)
    save_pool(pool, recycle_policy={"idle_days": 30})

    # the save committed its policy and the mark before the first batch
    assert marks == [0, walked[9].pk, walked[19].pk]
    assert claimed == [customer.pk for customer in pooled]
    assert not ScheduleRecompute.objects.exists()
    fresh = Pool.objects.select_related("recycle_policy").get(pk=pool.pk)
    owned = Customer.objects.filter(pool=pool, status=CustomerStatus.OWNED)
    assert owned.count() == 25 + 3  # the claimed ones too
    assert all(schedules(pool)[customer.pk] == expected(customer, fresh) for customer in owned)
    assert mismatches(timezone.now()) == []


@pytest.mark.django_db(transaction=True)
def test_a_killed_walk_warns_nobody_by_the_old_policy_and_the_periodic_run_finishes_it(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = org["east_pool"]
    save_pool(pool, recycle_policy={"idle_days": 7, "warn_days": 2})
    # owned 6 days ago: due in a day, warned since yesterday; under 30 days, due in 24
    walked = owned_for_days(pool, org["rep_b"], 25, 6)
    recompute_pool_schedules(pool)
    now = timezone.now()
    assert all(warn is not None and warn < now for _due, warn in schedules(pool).values())
    batches = 0
    recompute_batch = recompute._recompute

    def killed_in_the_second_batch(pool_id: int, owned: Any) -> int:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise RuntimeError("the process died")
        return recompute_batch(pool_id, owned)

    monkeypatch.setattr(recompute, "_recompute", killed_in_the_second_batch)
    RecyclePolicy.objects.filter(pool=pool).update(idle_days=30)
    with pytest.raises(RuntimeError):
        recompute_pool_schedules(pool, batch_size=10)
    monkeypatch.undo()

    assert ScheduleRecompute.objects.get(pool=pool).done_to == walked[9].pk
    # the customers not reached yet are pending, not mismatched, for ``highseas check``
    assert mismatches(now) == []
    assert sweep(now).warned == []  # nor warned by the previous policy's time

    figures = scheduler.run_periodic_jobs(now, lane=scheduler.OWNERSHIP)

    assert (figures["recomputed"], figures["failed"]) == (15, [])
    assert not ScheduleRecompute.objects.exists()
    assert mismatches(now) == []
    due = now - timedelta(days=6) + timedelta(days=30)
    assert all(abs(got[0] - due) < timedelta(minutes=1) for got in schedules(pool).values())


def test_a_second_change_during_a_walk_starts_it_again(idle_pool: Pool, owner: User) -> None:
    customers = [
        create_owned(idle_pool, owner, Shape("A", False, START, None, None, [])) for _ in range(3)
    ]
    start_recompute(idle_pool.pk)
    ScheduleRecompute.objects.filter(pool=idle_pool).update(done_to=customers[1].pk)
    start_recompute(idle_pool.pk)
    assert ScheduleRecompute.objects.get(pool=idle_pool).done_to == 0
    assert recompute.finish_recompute(idle_pool.pk) == 3


def test_a_change_that_leaves_the_recycle_policy_alone_recomputes_nothing(
    idle_pool: Pool, owner: User, make_team: Callable[..., Any]
) -> None:
    customer = create_owned(idle_pool, owner, Shape("A", False, START, None, None, []))
    stale = START + timedelta(days=99)
    Customer.objects.filter(pk=customer.pk).update(recycle_due_at=stale, warn_at=stale)

    save_pool(idle_pool, claim_policy={"holding_cap": 5}, member_teams=[make_team("新团队")])

    assert schedules(idle_pool)[customer.pk] == (stale, stale)
    assert not ScheduleRecompute.objects.exists()
    changed = AuditLog.objects.get(action=AuditLog.Action.POLICY_CHANGE)
    assert changed.detail["before"]["recycle_policy"] == changed.detail["after"]["recycle_policy"]
    assert changed.detail["after"]["claim_policy"]["holding_cap"] == 5


def test_saving_a_pool_without_a_policy_change_writes_no_policy_change(
    idle_pool: Pool, make_team: Callable[..., Any]
) -> None:
    save_pool(idle_pool, member_teams=[make_team("又一个团队")])
    assert not AuditLog.objects.filter(action=AuditLog.Action.POLICY_CHANGE).exists()


@pytest.mark.django_db(transaction=True)
def test_a_save_whose_walk_loses_a_lock_is_saved_and_walked_by_the_periodic_run(
    idle_pool: Pool, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = create_owned(idle_pool, owner, Shape("A", False, START, None, None, []))
    recompute_pool_schedules(idle_pool)

    def locked(pool_id: int, owned: Any) -> int:
        raise OperationalError("database is locked")

    monkeypatch.setattr(recompute, "_recompute", locked)
    save_pool(idle_pool, recycle_policy={"idle_days": 20, "warn_days": None})  # no error
    monkeypatch.undo()

    assert RecyclePolicy.objects.get(pool=idle_pool).idle_days == 20
    assert ScheduleRecompute.objects.filter(pool=idle_pool).exists()
    assert recompute.finish_pending_recomputes() == 1
    assert schedules(idle_pool)[customer.pk] == (START + timedelta(hours=5), None)


def test_the_periodic_run_leaves_a_walk_another_walker_is_at(idle_pool: Pool, owner: User) -> None:
    create_owned(idle_pool, owner, Shape("A", False, START, None, None, []))
    start_recompute(idle_pool.pk)
    name, holder = f"recompute:{idle_pool.pk}", leases.new_holder()
    assert leases.take(name, leases.clock(), holder)

    assert recompute.finish_pending_recomputes() == 0
    assert ScheduleRecompute.objects.filter(pool=idle_pool).exists()

    leases.release(name, holder, took_ms=1.0, failed=False)
    assert recompute.finish_pending_recomputes() == 1
    assert not ScheduleRecompute.objects.exists()


def test_a_walker_walks_a_change_saved_while_it_held_the_lease(
    idle_pool: Pool, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The saver of the second change found the lease held and left its walk to the holder."""
    create_owned(idle_pool, owner, Shape("A", False, START, None, None, []))
    finish = recompute.finish_recompute
    passes: list[int] = []

    def and_a_second_save_meanwhile(pool_id: int) -> int:
        passes.append(finish(pool_id))
        if len(passes) == 1:
            start_recompute(pool_id)
        return passes[-1]

    monkeypatch.setattr(recompute, "finish_recompute", and_a_second_save_meanwhile)
    start_recompute(idle_pool.pk)
    assert recompute.walk(idle_pool.pk) == 2
    assert passes == [1, 1]
    assert not ScheduleRecompute.objects.exists()
