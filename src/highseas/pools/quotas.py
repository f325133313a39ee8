"""A rep's standing in each pool they belong to: holdings, cap, quota used and left; and the
claim quotas a claim was judged by, as its ledger row records them.

A ``claimed`` ledger row carries the quotas in force for that rep and pool at the moment of
the claim, in its ``policy_ref``: ``claim_quota day=5 week=20`` (``none`` for no limit), so
``highseas check`` judges each claim by the limits it was granted under, not by today's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from highseas.accounts.models import RepProfile, User
from highseas.accounts.visibility import member_pools
from highseas.engine.limits import ClaimLimits, effective_limits
from highseas.engine.tiers import Ceilings, scaled_limits
from highseas.insights.models import RepLimitFactor
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
    """The rep's standing in each pool they belong to, by name."""
    now = now or timezone.now()
    zone = timezone.get_default_timezone()
    profile = RepProfile.objects.filter(user=user).first()
    result = []
    for pool in member_pools(user).select_related("claim_policy").order_by("name"):
        pool_limits = performance_limits(claim_limits(pool), pool.pk, user.pk)
        limits = effective_limits(pool_limits, rep_overrides(profile))
        today, week = facts.claims_in_periods(user.pk, pool.pk, now, zone)
        held = facts.holdings(user.pk, count_won=limits.count_won_in_cap)
        result.append(standing(pool.pk, pool.name, limits, holdings=held, today=today, week=week))
    return result


def standing(
    pool_id: int, name: str, limits: ClaimLimits, *, holdings: int, today: int, week: int
) -> dict[str, Any]:
    """One pool's standing under the rep's ``limits`` (``PoolStanding``, as a dict): what
    ``standings`` reads for each pool, and what a claim already knows of its own pool. Its
    fields are plain values, so the instance's own dict is copied (``asdict`` copies deeply,
    at about 9 µs a call on every claim)."""
    return dict(
        vars(
            PoolStanding(
                pool=pool_id,
                name=name,
                holding_cap=limits.holding_cap,
                holdings=holdings,
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


TIER_FIELDS = ("ceiling_daily_quota", "ceiling_weekly_quota", "ceiling_holding_cap")


def tiered_limits(
    limits: ClaimLimits, multiplier: Any, daily: Any, weekly: Any, cap: Any
) -> ClaimLimits:
    """The pool's limits after a rep's performance multiplier (None: no plan on, or no
    factor for the rep) and the plan's ceilings."""
    if multiplier is None:
        return limits
    return scaled_limits(limits, Decimal(str(multiplier)), Ceilings(daily, weekly, cap))


def performance_limits(limits: ClaimLimits, pool_id: int | None, rep_id: int) -> ClaimLimits:
    """The pool's limits for one rep after their performance tier, where the pool has a
    performance-linked plan on (``insights.limits``): one indexed lookup of the precomputed
    factor; the pool's limits unchanged otherwise. Rep overrides still tighten the result.
    (The rush claim path reads the same factor in its one statement.)"""
    if pool_id is None:
        return limits
    row = (
        RepLimitFactor.objects.filter(
            pool_id=pool_id, rep_id=rep_id, pool__limit_plan__is_active=True
        )
        .values_list("multiplier", *(f"pool__limit_plan__{name}" for name in TIER_FIELDS))
        .first()
    )
    return limits if row is None else tiered_limits(limits, *row)


QUOTA_REF = "claim_quota"


@dataclass(frozen=True)
class Quotas:
    daily: int | None
    weekly: int | None


def _shown(limit: int | None) -> str:
    return "none" if limit is None else str(limit)


def quota_ref(limits: ClaimLimits) -> str:
    """The ``policy_ref`` of a claim's ledger row: the quotas it was judged by."""
    return f"{QUOTA_REF} day={_shown(limits.daily_quota)} week={_shown(limits.weekly_quota)}"


def _limit(text: str) -> int | None:
    return None if text == "none" else int(text)


def recorded_quotas(policy_ref: str) -> Quotas | None:
    """The quotas a ``quota_ref`` records; ``None`` for a row that records none (older rows,
    or rows written by another path)."""
    words = policy_ref.split()
    if len(words) != 3 or words[0] != QUOTA_REF:
        return None
    values = dict(word.partition("=")[::2] for word in words[1:])
    try:
        return Quotas(_limit(values["day"]), _limit(values["week"]))
    except (KeyError, ValueError):
        return None
