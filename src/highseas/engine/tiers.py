"""Performance-linked claim limits: reps ranked by a measure fall into tiers whose multipliers
scale their daily/weekly quota and holding cap, never above the pool's ceiling.

1. Ranking (``rank_percents``): the reps with a value are ordered best first (ties share the
   better place); the rep at place ``p`` of ``n`` is in the top ``100 * p / n`` percent. A
   rep without a value (nothing to measure) has no rank.
2. Tiers (``multiplier_for``): ``[(top_percent, multiplier), …]`` in the order given; the
   first tier whose ``top_percent`` is at least the rep's rank applies; no tier, or no rank,
   is a multiplier of 1.
3. Scaling (``scaled``): no limit stays no limit; otherwise ``floor(base * multiplier)``, at
   most the ceiling, and without a ceiling at most the base itself (a tier may then only
   tighten). Never below 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from highseas.engine.limits import ClaimLimits

MOST_MULTIPLIER = Decimal(5)


@dataclass(frozen=True, slots=True)
class Tier:
    top_percent: float
    multiplier: Decimal


@dataclass(frozen=True, slots=True)
class Ceilings:
    daily_quota: int | None = None
    weekly_quota: int | None = None
    holding_cap: int | None = None


def rank_percents(values: Mapping[int, float | None]) -> dict[int, float | None]:
    """Per rep, the top percent they are in (step 1); None without a value."""
    measured = sorted((v for v in values.values() if v is not None), reverse=True)
    count = len(measured)
    places: dict[float, int] = {}
    for place, value in enumerate(measured, 1):
        places.setdefault(value, place)
    return {
        rep: None if value is None else 100.0 * places[value] / count
        for rep, value in values.items()
    }


def multiplier_for(top_percent: float | None, tiers: Sequence[Tier]) -> Decimal:
    """The multiplier of the first tier that holds the rank (step 2)."""
    if top_percent is None:
        return Decimal(1)
    for tier in tiers:
        if top_percent <= tier.top_percent:
            return tier.multiplier
    return Decimal(1)


def scaled(base: int | None, multiplier: Decimal, ceiling: int | None) -> int | None:
    """A limit scaled by a multiplier, bounded by the ceiling (step 3)."""
    if base is None:
        return None
    bound = base if ceiling is None else ceiling
    value = math.floor(Decimal(base) * max(multiplier, Decimal(0)))
    return max(min(value, bound), 0)


def scaled_limits(limits: ClaimLimits, multiplier: Decimal, ceilings: Ceilings) -> ClaimLimits:
    """The pool's claim limits for one rep after their tier's multiplier (a plan's ceilings
    are at least the pool's limits, so a multiplier of 1 keeps them)."""
    return ClaimLimits(
        daily_quota=scaled(limits.daily_quota, multiplier, ceilings.daily_quota),
        weekly_quota=scaled(limits.weekly_quota, multiplier, ceilings.weekly_quota),
        holding_cap=scaled(limits.holding_cap, multiplier, ceilings.holding_cap),
        count_won_in_cap=limits.count_won_in_cap,
        reclaim_cooldown_days=limits.reclaim_cooldown_days,
        requires_approval=limits.requires_approval,
        approval_expiry_hours=limits.approval_expiry_hours,
        max_frozen=limits.max_frozen,
        max_freeze_days=limits.max_freeze_days,
    )


def tier_errors(tiers: object) -> list[str]:
    """What is wrong with a tiers value ``[{"top_percent": p, "multiplier": m}, …]``."""
    if not isinstance(tiers, list):
        return ["Use a list of tiers."]
    errors = []
    for index, tier in enumerate(tiers):
        if not isinstance(tier, dict) or set(tier) != {"top_percent", "multiplier"}:
            errors.append(f"tier {index}: top_percent and multiplier")
            continue
        top, factor = tier["top_percent"], tier["multiplier"]
        if not isinstance(top, int | float) or isinstance(top, bool) or not 0 < top <= 100:
            errors.append(f"tier {index}: top_percent between 0 and 100")
        try:
            valid = 0 <= Decimal(str(factor)) <= MOST_MULTIPLIER
        except ArithmeticError:
            valid = False
        if isinstance(factor, bool) or not valid:
            errors.append(f"tier {index}: multiplier between 0 and {MOST_MULTIPLIER}")
    return errors


def parse_tiers(tiers: Sequence[Mapping[str, object]]) -> list[Tier]:
    return [Tier(float(str(t["top_percent"])), Decimal(str(t["multiplier"]))) for t in tiers]
