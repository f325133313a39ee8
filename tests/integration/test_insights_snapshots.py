"""Daily pool sizes: the stored days agree exactly with the ledger replay and with a count
by hand; a missing day falls back to the replay; the job refreshes at most once an hour."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.insights.models import PoolSizeDay
from highseas.insights.snapshots import pool_sizes, record_pool_sizes
from highseas.pools import ownership

NOW = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)


def day(n: float) -> datetime:
    return NOW - timedelta(days=n)


@pytest.fixture
def moved(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Any]:
    """East pool: three customers pooled 5 days ago; one claimed 3 days ago, another claimed
    2 days ago and released yesterday."""
    pool = org["east_pool"]
    made = [make_customer(org["admin"], pool=pool, now=day(5)) for _ in range(3)]
    ownership.claim(org["rep_a"], made[0].pk, now=day(3))
    ownership.claim(org["rep_b"], made[1].pk, now=day(2))
    ownership.release(org["rep_b"], made[1].pk, reason="暂无需求", now=day(1))
    return {**org, "pool": pool}


@pytest.mark.django_db
def test_stored_days_agree_with_the_replay_and_by_hand(moved: dict[str, Any]) -> None:
    pools = [moved["pool"]]
    axis, replayed = pool_sizes(pools, NOW, 7)
    # by hand, end of day: 6 and 5 days ago 0 and 3; 4 days ago 3; 3 days ago 2; 2 days ago 1;
    # yesterday 2; today 2
    assert replayed == {moved["pool"].name: [0, 3, 3, 2, 1, 2, 2]}
    assert record_pool_sizes(NOW, days=7) == {"pool_size_days": 2 * 6 + 2}  # both pools
    assert PoolSizeDay.objects.count() == 14
    assert pool_sizes(pools, NOW, 7) == (axis, replayed)


@pytest.mark.django_db
def test_a_missing_day_falls_back_to_the_replay(moved: dict[str, Any]) -> None:
    record_pool_sizes(NOW, days=7)
    PoolSizeDay.objects.filter(pool=moved["pool"]).update(pooled=99)  # stale rows are used…
    assert pool_sizes([moved["pool"]], NOW, 7)[1][moved["pool"].name][:6] == [99] * 6
    PoolSizeDay.objects.filter(pool=moved["pool"], day=day(3).date()).delete()  # …a gap is not
    assert pool_sizes([moved["pool"]], NOW, 7)[1] == {moved["pool"].name: [0, 3, 3, 2, 1, 2, 2]}


@pytest.mark.django_db
def test_the_job_refreshes_at_most_once_an_hour(moved: dict[str, Any]) -> None:
    assert record_pool_sizes(NOW, days=7)
    assert record_pool_sizes(NOW + timedelta(minutes=59), days=7) == {}
    assert record_pool_sizes(NOW + timedelta(minutes=61), days=7) == {"pool_size_days": 2}
