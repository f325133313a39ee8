"""Rescheduling several customers at once (a rep's leave, a pool's new recycle policy) while
a follow-up resets one of their clocks (PostgreSQL, real threads): each customer is read under
its row lock, so the schedule written is the follow-up's, never one worked out from the
customer as it was before."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.insights import value
from highseas.pools import followups
from highseas.pools.leave import record_leave
from highseas.pools.models import Pool, RecyclePolicy
from highseas.pools.recompute import recompute_pool_schedules

pytestmark = pytest.mark.django_db(transaction=True)

TZ = timezone.get_default_timezone()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
DAY = timedelta(days=1)
HOLD = 0.5  # how long the follow-up keeps its transaction open after writing


@pytest.fixture
def held(org: dict[str, Any], make_customer: Callable[..., Customer]) -> list[Customer]:
    """Three of rep_a's customers, claimed at T0: due at T0 + 10 days."""
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=10, warn_days=2)
    pool = Pool.objects.select_related("recycle_policy").get(pk=org["east_pool"].pk)
    return [make_customer(org["rep_a"], owner=org["rep_a"], pool=pool, now=T0) for _ in range(3)]


def _follow_up_held_open(org: dict[str, Any], customer: Customer, written: threading.Event) -> None:
    try:
        with transaction.atomic():
            followups.log_activity(
                org["rep_a"], customer.pk, kind="call", occurred_at=T0 + 2 * DAY, now=T0 + 2 * DAY
            )
            written.set()
            threading.Event().wait(HOLD)
    finally:
        written.set()
        connections.close_all()


def _while_a_follow_up_is_open(org: dict[str, Any], customer: Customer, action: Any) -> None:
    written = threading.Event()
    worker = threading.Thread(target=_follow_up_held_open, args=(org, customer, written))
    worker.start()
    assert written.wait(30)
    action()
    worker.join(30)
    assert not worker.is_alive()


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite's write transaction excludes every other writer")


def _leave(org: dict[str, Any]) -> None:
    record_leave(
        Viewer(org["east_manager"]),
        org["rep_a"].pk,
        leave_from=date(2026, 11, 5),
        leave_until=date(2026, 11, 7),
    )


def _longer_idle_days(org: dict[str, Any]) -> None:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=20)
    recompute_pool_schedules(org["east_pool"])


@pytest.mark.parametrize(
    ("action", "followed_due", "others_due"),
    [
        # the clock restarted at T0 + 2 days, then paused three days by the leave
        pytest.param(_leave, T0 + 15 * DAY, T0 + 13 * DAY, id="a leave"),
        pytest.param(_longer_idle_days, T0 + 22 * DAY, T0 + 20 * DAY, id="a policy change"),
    ],
)
def test_a_reschedule_during_a_follow_up_keeps_the_follow_up_s_reset(
    org: dict[str, Any],
    held: list[Customer],
    action: Callable[[dict[str, Any]], None],
    followed_due: datetime,
    others_due: datetime,
) -> None:
    _while_a_follow_up_is_open(org, held[1], lambda: action(org))
    assert Customer.objects.get(pk=held[1].pk).recycle_due_at == followed_due
    assert Customer.objects.get(pk=held[0].pk).recycle_due_at == others_due


def test_a_policy_change_locks_the_pool_s_customers_in_id_order_first(
    org: dict[str, Any], held: list[Customer]
) -> None:
    with CaptureQueriesContext(connection) as captured:
        recompute_pool_schedules(org["east_pool"])
    touching = [
        q["sql"]
        for q in captured.captured_queries
        if '"customers_customer"' in q["sql"]
        and ("FOR UPDATE" in q["sql"] or q["sql"].startswith("UPDATE"))
    ]  # the statements that lock or write customers (a batch's bounds are read unlocked)
    assert "ORDER BY 1 ASC FOR UPDATE" in touching[0], touching[0]  # 1: the id


def test_a_batch_of_level_changes_locks_its_customers_in_id_order(
    org: dict[str, Any], held: list[Customer]
) -> None:
    changes = [{"customer": c.pk, "from": c.level, "to": "A"} for c in reversed(held)]
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        assert value._apply_batch(changes, T0) == 3
    locking = next(q["sql"] for q in captured.captured_queries if "FOR UPDATE" in q["sql"])
    assert 'ORDER BY "customers_customer"."id" ASC FOR UPDATE' in locking, locking
