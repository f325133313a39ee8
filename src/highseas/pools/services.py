"""Pools: creating and changing a pool with its policies and members; the default pool."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from highseas.pools.models import ClaimPolicy, Pool, RecyclePolicy
from highseas.pools.recompute import recompute_pool_schedules


def default_pool() -> Pool | None:
    return Pool.objects.filter(is_default=True).first()


@transaction.atomic
def save_pool(
    pool: Pool,
    *,
    claim_policy: dict[str, Any] | None = None,
    recycle_policy: dict[str, Any] | None = None,
    member_teams: list[Any] | None = None,
    member_users: list[Any] | None = None,
    admins: list[Any] | None = None,
) -> Pool:
    """Create or update a pool with its two policies and its members; the owned customers'
    recycle schedules follow the saved recycle policy."""
    pool.save()
    ClaimPolicy.objects.update_or_create(pool=pool, defaults=claim_policy or {})
    RecyclePolicy.objects.update_or_create(pool=pool, defaults=recycle_policy or {})
    recompute_pool_schedules(pool)
    if member_teams is not None:
        pool.member_teams.set(member_teams)
    if member_users is not None:
        pool.member_users.set(member_users)
    if admins is not None:
        pool.admins.set(admins)
    return pool
