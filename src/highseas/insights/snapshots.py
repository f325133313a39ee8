"""Daily pool sizes, precomputed (``PoolSizeDay``) so the dashboard's pool-size line does not
replay the ledger on every load.

1. ``replayed_sizes`` is the truth: pooled customers per pool at the end of each of the last
   ``days`` days, replayed backwards from today's count through the ledger's entries into and
   exits from each pool.
2. ``record_pool_sizes`` (the scheduler, at most once an hour) stores today's size of every
   pool and backfills the past days that have no row yet from one replay.
3. ``pool_sizes`` reads the stored days and today's live count; when a day is missing for a
   pool it falls back to the replay, so the figures never depend on whether the job ran.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from highseas.customers.choices import CustomerStatus
from highseas.insights.models import PoolSizeDay
from highseas.pools.models import OwnershipEvent, Pool

DAYS = 60
REFRESH = timedelta(hours=1)


def axis_of(now: datetime, days: int) -> list[date]:
    today = timezone.localtime(now, timezone.get_current_timezone()).date()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def live_sizes(pool_ids: list[int]) -> dict[int, int]:
    rows = (
        Pool.objects.filter(pk__in=pool_ids)
        .annotate(n=Count("customers", filter=Q(customers__status=CustomerStatus.POOLED)))
        .values_list("pk", "n")
    )
    return dict(rows)


def replayed_sizes(pools: list[Pool], now: datetime, days: int) -> dict[int, list[int]]:
    """Per pool, its size at the end of each axis day (module docstring, step 1)."""
    zone = timezone.get_current_timezone()
    axis = axis_of(now, days)
    start = datetime.combine(axis[1] if len(axis) > 1 else axis[0], datetime.min.time(), zone)
    ids = [pool.pk for pool in pools]
    net: dict[tuple[int, date], int] = defaultdict(int)
    recent = OwnershipEvent.objects.filter(at__gte=start).annotate(day=TruncDate("at", tzinfo=zone))
    for side, sign in (("to", 1), ("from", -1)):
        moved = (
            recent.filter(**{f"{side}_status": CustomerStatus.POOLED, f"{side}_pool_id__in": ids})
            .values_list(f"{side}_pool_id", "day")
            .annotate(n=Count("id"))
        )
        for pool_id, day, count in moved:
            net[(pool_id, day)] += sign * count
    today = live_sizes(ids)
    series = {}
    for pool in pools:
        size = today.get(pool.pk, 0)
        values = [size]
        for day in reversed(axis[1:]):
            size -= net[(pool.pk, day)]
            values.append(size)
        series[pool.pk] = list(reversed(values))
    return series


def pool_sizes(
    pools: list[Pool], now: datetime, days: int
) -> tuple[list[date], dict[str, list[int]]]:
    """The axis and, by pool name, the sizes (module docstring, step 3)."""
    axis = axis_of(now, days)
    ids = [pool.pk for pool in pools]
    stored: dict[tuple[int, date], int] = {
        (pool_id, day): pooled
        for pool_id, day, pooled in PoolSizeDay.objects.filter(
            pool_id__in=ids, day__gte=axis[0], day__lt=axis[-1]
        ).values_list("pool_id", "day", "pooled")
    }
    complete = all((pk, day) in stored for pk in ids for day in axis[:-1])
    if not complete:
        replayed = replayed_sizes(pools, now, days)
        return axis, {pool.name: replayed[pool.pk] for pool in pools}
    today = live_sizes(ids)
    return axis, {
        pool.name: [stored[(pool.pk, day)] for day in axis[:-1]] + [today.get(pool.pk, 0)]
        for pool in pools
    }


def record_pool_sizes(now: datetime, days: int = DAYS) -> dict[str, int]:
    """Store today's sizes and backfill missing days (module docstring, step 2)."""
    axis = axis_of(now, days)
    fresh = PoolSizeDay.objects.filter(day=axis[-1], updated_at__gt=now - REFRESH).exists()
    if fresh:
        return {}
    pools = list(Pool.objects.filter(is_reassign_queue=False))
    ids = [pool.pk for pool in pools]
    have = set(
        PoolSizeDay.objects.filter(pool_id__in=ids, day__gte=axis[0]).values_list("pool_id", "day")
    )
    missing = [(pk, day) for pk in ids for day in axis[:-1] if (pk, day) not in have]
    sizes = replayed_sizes(pools, now, days) if missing else {}
    rows = [
        PoolSizeDay(pool_id=pk, day=day, pooled=sizes[pk][axis.index(day)], updated_at=now)
        for pk, day in missing
    ]
    # several workers may backfill the same days at once; they replay the same ledger
    PoolSizeDay.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    today = live_sizes(ids)
    for pk in ids:
        PoolSizeDay.objects.update_or_create(
            pool_id=pk, day=axis[-1], defaults={"pooled": today.get(pk, 0), "updated_at": now}
        )
    return {"pool_size_days": len(rows) + len(ids)}
