"""Claim limits of a pool, a rep's personal overrides, and how they combine.

A ``None`` limit means "no limit". When both the pool and the rep's profile set a limit, the
strictest (the smaller) wins: an override can tighten a pool's limit for one rep, never loosen
it. (A manager who must exceed a cap uses an explicit, logged override on the action.)
"""

from __future__ import annotations

from dataclasses import dataclass


def strictest(*limits: int | None) -> int | None:
    present = [limit for limit in limits if limit is not None]
    return min(present) if present else None


@dataclass(frozen=True, slots=True)
class ClaimLimits:
    daily_quota: int | None = None
    weekly_quota: int | None = None
    holding_cap: int | None = None
    count_won_in_cap: bool = False
    reclaim_cooldown_days: int | None = None
    requires_approval: bool = False
    approval_expiry_hours: int | None = None
    max_frozen: int | None = None
    max_freeze_days: int | None = None


@dataclass(frozen=True, slots=True)
class RepOverrides:
    holding_cap: int | None = None
    daily_quota: int | None = None
    weekly_quota: int | None = None


def effective_limits(pool: ClaimLimits, rep: RepOverrides) -> ClaimLimits:
    return ClaimLimits(
        daily_quota=strictest(pool.daily_quota, rep.daily_quota),
        weekly_quota=strictest(pool.weekly_quota, rep.weekly_quota),
        holding_cap=strictest(pool.holding_cap, rep.holding_cap),
        count_won_in_cap=pool.count_won_in_cap,
        reclaim_cooldown_days=pool.reclaim_cooldown_days,
        requires_approval=pool.requires_approval,
        approval_expiry_hours=pool.approval_expiry_hours,
        max_frozen=pool.max_frozen,
        max_freeze_days=pool.max_freeze_days,
    )
