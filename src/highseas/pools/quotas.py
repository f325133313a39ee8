"""A rep's standing in each pool they belong to: holdings, cap, quota used and left."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from highseas.accounts.models import RepProfile, User
from highseas.accounts.visibility import member_pools
from highseas.engine.limits import effective_limits
from highseas.pools import facts
from highseas.pools.policies import claim_limits, rep_overrides


def _left(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(limit - used, 0)


@dataclass(frozen=True)
class PoolStanding:
    pool: int
    name: str
    holding_cap: int | None
    holdings: int
    daily_quota: int | None
    claimed_today: int
    daily_left: int | None
    weekly_quota: int | None
    claimed_this_week: int
    weekly_left: int | None
    requires_approval: bool


def standings(user: User, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or timezone.now()
    zone = timezone.get_default_timezone()
    profile = RepProfile.objects.filter(user=user).first()
    result = []
    for pool in member_pools(user).select_related("claim_policy").order_by("name"):
        limits = effective_limits(claim_limits(pool), rep_overrides(profile))
        today, week = facts.claims_in_periods(user.pk, pool.pk, now, zone)
        held = facts.holdings(user.pk, count_won=limits.count_won_in_cap)
        result.append(
            asdict(
                PoolStanding(
                    pool=pool.pk,
                    name=pool.name,
                    holding_cap=limits.holding_cap,
                    holdings=held,
                    daily_quota=limits.daily_quota,
                    claimed_today=today,
                    daily_left=_left(limits.daily_quota, today),
                    weekly_quota=limits.weekly_quota,
                    claimed_this_week=week,
                    weekly_left=_left(limits.weekly_quota, week),
                    requires_approval=limits.requires_approval,
                )
            )
        )
    return result
