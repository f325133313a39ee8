"""The recycle sweep: warn first, recycle when due, land in the destination, say why — once."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.models import Notification
from highseas.pools import followups, ownership
from highseas.pools.invariants import run_checks
from highseas.pools.models import ClaimPolicy, OwnershipEvent, Pool, RecyclePolicy
from highseas.pools.services import save_pool
from highseas.pools.sweep import Scope, sweep
from tests.races import against_sweep

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.get_default_timezone())


@pytest.fixture
def east(org: dict[str, Any]) -> dict[str, Any]:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(reclaim_cooldown_days=3)
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7, warn_days=3)
    return org


@pytest.fixture
def claimed(
    east: dict[str, Any], make_customer: Callable[..., Customer]
) -> Callable[..., Customer]:
    def make(rep: str = "rep_a", at: datetime = T0) -> Customer:
        customer = make_customer(east["admin"], pool=east["east_pool"], now=at)
        ownership.claim(east[rep], customer.pk, now=at)
        customer.refresh_from_db()
        return customer

    return make


def state(customer: Customer) -> tuple[str, int | None, int | None]:
    customer.refresh_from_db()
    return customer.status, customer.owner_id, customer.pool_id


@pytest.mark.django_db
class TestIdleLimit:
    def test_warned_at_day_four_recycled_at_day_seven(
        self,
        east: dict[str, Any],
        claimed: Callable[..., Customer],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        customer = claimed()
        day = timedelta(days=1)
        assert sweep(T0 + 4 * day - timedelta(seconds=1)).warned == []
        warned = sweep(T0 + 4 * day)
        assert [w.customer for w in warned.warned] == [customer.pk]
        assert (
            Notification.objects.filter(kind="recycle_warning", recipient=east["rep_a"]).count()
            == 1
        )
        assert sweep(T0 + 5 * day).warned == []  # once per due cycle
        assert sweep(T0 + 7 * day - timedelta(seconds=1)).recycled == []
        with django_capture_on_commit_callbacks(execute=True):
            recycled = sweep(T0 + 7 * day)
        assert [(r.customer, r.rule) for r in recycled.recycled] == [(customer.pk, "idle_limit")]
        assert state(customer) == ("pooled", None, east["east_pool"].pk)
        assert customer.previous_owner_id == east["rep_a"].pk
        event = OwnershipEvent.objects.filter(customer=customer).latest("id")
        assert (event.kind, event.actor_id, event.actor_label, event.from_owner_id) == (
            "recycled",
            None,
            "system:idle_limit",
            east["rep_a"].pk,
        )
        assert "7" in event.reason
        assert Notification.objects.filter(kind="recycled", recipient=east["rep_a"]).exists()
        assert run_checks().ok

    def test_the_previous_owner_cooldown_starts_at_the_recycle(
        self, east: dict[str, Any], claimed: Callable[..., Customer]
    ) -> None:
        customer = claimed()
        recycled_at = T0 + timedelta(days=7)
        sweep(recycled_at)
        with pytest.raises(HighSeasError) as refusal:
            ownership.claim(east["rep_a"], customer.pk, now=recycled_at + timedelta(days=2))
        assert refusal.value.code is ErrorCode.RECLAIM_COOLDOWN
        ownership.claim(east["rep_a"], customer.pk, now=recycled_at + timedelta(days=3))

    def test_a_follow_up_pushes_the_recycle_back(
        self, east: dict[str, Any], claimed: Callable[..., Customer]
    ) -> None:
        customer = claimed()
        followups.log_activity(
            east["rep_a"],
            customer.pk,
            kind="visit",
            occurred_at=T0 + timedelta(days=5),
            now=T0 + timedelta(days=5),
        )
        assert sweep(T0 + timedelta(days=7)).recycled == []
        assert state(customer)[0] == "owned"
        assert [r.customer for r in sweep(T0 + timedelta(days=12)).recycled] == [customer.pk]

    def test_a_frozen_customer_waits_for_its_freeze_to_end(
        self, east: dict[str, Any], claimed: Callable[..., Customer]
    ) -> None:
        customer = claimed()
        ownership.freeze(
            east["rep_a"],
            customer.pk,
            until=T0 + timedelta(days=20),
            reason="招标期间",
            now=T0 + timedelta(days=1),
        )
        assert sweep(T0 + timedelta(days=19)).recycled == []
        assert state(customer)[0] == "frozen"
        preview = sweep(T0 + timedelta(days=20), dry_run=True)
        assert [r.customer for r in preview.recycled] == [customer.pk]
        real = sweep(T0 + timedelta(days=20))
        assert (real.unfrozen, [r.customer for r in real.recycled]) == (
            [customer.pk],
            [customer.pk],
        )
        assert run_checks().ok


@pytest.mark.django_db
class TestDestinations:
    def test_another_pool(
        self, east: dict[str, Any], claimed: Callable[..., Customer], make_pool: Callable[..., Pool]
    ) -> None:
        graveyard = make_pool("沉睡客户池")
        RecyclePolicy.objects.filter(pool=east["east_pool"]).update(
            destination="pool", destination_pool=graveyard
        )
        customer = claimed()
        sweep(T0 + timedelta(days=7))
        assert state(customer) == ("pooled", None, graveyard.pk)

    def test_the_managers_reassign_queue(
        self, east: dict[str, Any], claimed: Callable[..., Customer]
    ) -> None:
        RecyclePolicy.objects.filter(pool=east["east_pool"]).update(destination="reassign_queue")
        customer = claimed()
        preview = sweep(T0 + timedelta(days=7), dry_run=True)
        assert preview.recycled[0].to_pool_name == "华东公海·待分配"
        assert not Pool.objects.filter(is_reassign_queue=True).exists()
        sweep(T0 + timedelta(days=7))
        queue = Pool.objects.get(is_reassign_queue=True)
        assert state(customer) == ("pooled", None, queue.pk)
        assert list(queue.admins.all()) == [east["east_manager"]]
        with pytest.raises(HighSeasError) as refusal:
            ownership.claim(east["rep_b"], customer.pk, now=T0 + timedelta(days=8))
        assert refusal.value.code is ErrorCode.NOT_POOL_MEMBER
        ownership.assign(
            east["east_manager"], customer.pk, east["rep_b"], now=T0 + timedelta(days=8)
        )


@pytest.mark.django_db
def test_won_customers_are_exempt(east: dict[str, Any], claimed: Callable[..., Customer]) -> None:
    customer = claimed()
    deal = followups.open_deal(east["rep_a"], customer.pk, amount=50000, now=T0)
    followups.close_deal(
        east["rep_a"], customer.pk, deal.pk, stage="won", now=T0 + timedelta(days=1)
    )
    assert sweep(T0 + timedelta(days=60)).recycled == []


@pytest.mark.django_db
def test_a_policy_change_is_previewed_before_saving(
    east: dict[str, Any], claimed: Callable[..., Customer]
) -> None:
    from highseas.pools.preview import preview_policy

    RecyclePolicy.objects.filter(pool=east["east_pool"]).update(idle_days=30)
    quiet = claimed(at=T0)
    busy = claimed(rep="rep_b", at=T0)
    followups.log_activity(
        east["rep_b"],
        busy.pk,
        kind="call",
        now=T0 + timedelta(days=4),
        occurred_at=T0 + timedelta(days=4),
    )
    pool = Pool.objects.get(pk=east["east_pool"].pk)
    preview = preview_policy(pool, {"idle_days": 7}, days=7, now=T0 + timedelta(days=3))
    assert [row["customer"] for row in preview.customers] == [quiet.pk]
    assert preview.by_owner == {"REP_A": 1}
    assert preview.current_rules_count == 0
    quiet.refresh_from_db()
    assert quiet.recycle_due_at == T0 + timedelta(days=30)  # nothing written


@pytest.mark.django_db
def test_a_sweep_with_nothing_due_writes_nothing(
    east: dict[str, Any], claimed: Callable[..., Customer]
) -> None:
    claimed()
    events = OwnershipEvent.objects.count()
    report = sweep(T0 + timedelta(days=1))
    assert (report.recycled, report.batches, OwnershipEvent.objects.count()) == ([], 0, events)


def _random_book(org: dict[str, Any], rng: random.Random, count: int) -> None:
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    save_pool(
        pool,
        recycle_policy={
            "idle_days": rng.choice([None, 3, 7]),
            "no_deal_days": rng.choice([None, 10, 30]),
            "first_contact_hours": rng.choice([None, 24, 72]),
            "warn_days": rng.choice([None, 2]),
            "exempt_open_deal": rng.random() < 0.5,
            "exempt_levels": rng.choice([[], ["A"]]),
            "level_overrides": rng.choice([{}, {"B": {"idle_days": 2}}]),
        },
    )
    from highseas.intake.creation import create_customer

    for index in range(count):
        at = T0 + timedelta(hours=rng.randrange(0, 24 * 10))
        customer = create_customer(
            actor=org["admin"],
            pool=pool,
            now=at,
            fields={"name": f"随机客户{index}", "level": rng.choice("ABC")},
        ).customer
        rep = rng.choice([org["rep_a"], org["rep_b"]])
        ownership.claim(rep, customer.pk, now=at)
        if rng.random() < 0.4:
            later = at + timedelta(hours=rng.randrange(1, 24 * 8))
            followups.log_activity(
                rep, customer.pk, kind=rng.choice(["call", "note"]), occurred_at=later, now=later
            )
        if rng.random() < 0.2:
            followups.open_deal(rep, customer.pk, amount=1000, now=at)
        if rng.random() < 0.15:
            ownership.freeze(
                rep,
                customer.pk,
                until=at + timedelta(days=rng.randrange(1, 9)),
                reason="冻结",
                now=at,
            )


@pytest.mark.django_db
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10_000), days=st.integers(1, 25))
def test_preview_and_real_sweep_agree(org: dict[str, Any], seed: int, days: int) -> None:
    Customer.objects.all().update(owner=None, status="pooled", frozen_until=None)
    OwnershipEvent.objects.all()._raw_delete(OwnershipEvent.objects.db)  # type: ignore[attr-defined]
    Customer.objects.all().delete()
    _random_book(org, random.Random(seed), 25)
    now = T0 + timedelta(days=days)
    preview = sweep(now, dry_run=True)
    real = sweep(now)
    assert sorted(
        (r.customer, r.from_owner, r.to_pool, r.rule) for r in preview.recycled
    ) == sorted((r.customer, r.from_owner, r.to_pool, r.rule) for r in real.recycled)
    assert sorted(w.customer for w in preview.warned) == sorted(w.customer for w in real.warned)
    assert run_checks().ok


@pytest.mark.django_db
def test_a_sweep_killed_midway_recycles_each_customer_once_on_rerun(
    east: dict[str, Any], claimed: Callable[..., Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    from highseas.pools import sweep as sweep_module

    customers = [claimed() for _ in range(7)]
    real_apply = sweep_module._apply
    calls = {"n": 0}

    def dying_apply(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        real_apply(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_apply", dying_apply)
    with pytest.raises(KeyboardInterrupt):
        sweep(T0 + timedelta(days=7), batch_size=3)
    assert Customer.objects.filter(status="pooled").count() == 3  # first batch committed
    monkeypatch.setattr(sweep_module, "_apply", real_apply)
    rerun = sweep(T0 + timedelta(days=7), batch_size=3)
    assert len(rerun.recycled) == 4
    assert sweep(T0 + timedelta(days=7)).recycled == []
    for customer in customers:
        assert OwnershipEvent.objects.filter(customer=customer, kind="recycled").count() == 1
    assert run_checks().ok


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_recycle_each_due_customer_once(
    east: dict[str, Any], make_user: Callable[..., User], claimed: Callable[..., Customer]
) -> None:
    reps = ["rep_a", "rep_b"]
    customers = [claimed(rep=reps[i % 2]) for i in range(60)]
    barrier = threading.Barrier(2)
    reports: list[Any] = [None, None]

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            reports[index] = sweep(T0 + timedelta(days=7), batch_size=5)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    recycled = [r.customer for report in reports for r in report.recycled]
    assert sorted(recycled) == sorted(c.pk for c in customers)
    assert OwnershipEvent.objects.filter(kind="recycled").count() == 60
    if connection.vendor == "postgresql":
        assert all(report.recycled for report in reports), "both workers should share the work"
    assert run_checks().ok


@pytest.mark.django_db
def test_a_scoped_preview_covers_one_rep(
    east: dict[str, Any], claimed: Callable[..., Customer]
) -> None:
    mine = claimed("rep_a")
    claimed("rep_b")
    report = sweep(T0 + timedelta(days=7), dry_run=True, scope=Scope(owner_id=east["rep_a"].pk))
    assert [r.customer for r in report.recycled] == [mine.pk]


@pytest.mark.django_db(transaction=True)
def test_a_follow_up_racing_the_sweep_either_keeps_the_customer_or_is_refused(
    east: dict[str, Any], claimed: Callable[..., Customer]
) -> None:
    """Real threads: the owner follows up every due customer while a sweep recycles them.
    Each customer ends one way only: the follow-up was accepted and the customer stays owned
    with its recycle pushed back (no ``recycled`` row), or the sweep took it first and the
    owner's follow-up is refused. A stale read recycling a customer just followed up would
    break the first, and the sweep's compare-and-set would stop the batch."""
    customers = [claimed() for _ in range(40)]
    now = T0 + timedelta(days=7)

    def follow_up(customer: Customer) -> None:
        followups.log_activity(east["rep_a"], customer.pk, kind="visit", occurred_at=now, now=now)

    accepted, refused, report = against_sweep(
        customers, follow_up, lambda: sweep(now, batch_size=3)
    )
    recycled = {item.customer for item in report.recycled}
    assert accepted | refused == {c.pk for c in customers} and not accepted & refused
    assert recycled == refused
    for customer in customers:
        customer.refresh_from_db()
        events = OwnershipEvent.objects.filter(customer=customer, kind="recycled").count()
        if customer.pk in accepted:
            assert (customer.status, customer.owner_id, events) == ("owned", east["rep_a"].pk, 0)
            assert customer.recycle_due_at is not None and customer.recycle_due_at > now
        else:
            assert (customer.status, customer.owner_id, events) == ("pooled", None, 1)
    assert run_checks().ok
