"""Facts the ownership rules need, read inside the transaction after the rep's lock is held.

Every service that can add to a rep's holdings or claims first calls ``lock_reps``; on
PostgreSQL that is ``SELECT … FOR UPDATE`` on the reps' profile rows, taken in id order so
two transactions never wait on each other in a cycle. On SQLite the transaction itself is
``BEGIN IMMEDIATE``, which already serializes writers. Either way, the counts below cannot
change between being read and the write that depends on them.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from django.db.models import Q

from highseas.accounts.models import RepProfile
from highseas.customers.choices import CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.ownership import EventKind
from highseas.engine.periods import day_start, week_start
from highseas.pools.models import OwnershipEvent

HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)
LOSSES = (EventKind.RELEASED.value, EventKind.RECYCLED.value)


def lock_reps(*user_ids: int) -> dict[int, RepProfile]:
    """Lock the reps' profile rows in id order; create any missing profile first, since a
    lock on no row would protect nothing."""
    ids = sorted(set(user_ids))
    locked = {
        p.user_id: p
        for p in RepProfile.objects.select_for_update().filter(user_id__in=ids).order_by("user_id")
    }
    missing = [user_id for user_id in ids if user_id not in locked]
    if missing:
        RepProfile.objects.bulk_create(
            [RepProfile(user_id=u) for u in missing], ignore_conflicts=True
        )
        return lock_reps(*ids)
    return locked


def holdings(user_id: int, *, count_won: bool) -> int:
    held = Customer.objects.filter(owner_id=user_id, status__in=HELD)
    if not count_won:
        held = held.exclude(stage=CustomerStage.WON)
    return held.count()


def frozen_count(user_id: int) -> int:
    return Customer.objects.filter(owner_id=user_id, status=CustomerStatus.FROZEN).count()


def claims_since(user_id: int, pool_id: int | None, since: datetime) -> int:
    return OwnershipEvent.objects.filter(
        to_owner_id=user_id, kind=EventKind.CLAIMED.value, from_pool_id=pool_id, at__gte=since
    ).count()


def claims_in_periods(
    user_id: int, pool_id: int | None, now: datetime, zone: tzinfo
) -> tuple[int, int]:
    """Claims from one pool today and this week, on the organization's calendar."""
    return (
        claims_since(user_id, pool_id, day_start(now, zone)),
        claims_since(user_id, pool_id, week_start(now, zone)),
    )


def lost_at(user_id: int, customer_id: int) -> datetime | None:
    """When this rep last released the customer or had it recycled."""
    return (
        OwnershipEvent.objects.filter(
            customer_id=customer_id, from_owner_id=user_id, kind__in=LOSSES
        )
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )


def has_open_deal(customer_id: int) -> bool:
    return (
        Deal.objects.filter(customer_id=customer_id)
        .filter(~Q(stage__in=[DealStage.WON, DealStage.LOST]))
        .exists()
    )
