"""Who may receive a routed customer: reps as plain snapshots, their running loads, and the
eligibility rule (SPEC §7).

A rep is eligible for one more customer when, in this order:

1. they are active (their account and their rep profile);
2. they are not on leave today;
3. they hold fewer customers than their holding cap (won customers count only where the
   pool counts them);
4. they were given fewer customers today than their daily quota (assignments counted on the
   organization's calendar day, however many runs happened, so running the rules every
   minute gives no more than running them once a day).

The first rule a rep fails is the reason they are rejected; ``None`` limits mean no limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from highseas.engine.limits import strictest


class Rejection(StrEnum):
    INACTIVE = "inactive"
    ON_LEAVE = "on_leave"
    HOLDING_CAP_REACHED = "holding_cap_reached"
    DAILY_QUOTA_REACHED = "daily_quota_reached"
    ZERO_WEIGHT = "zero_weight"


@dataclass(frozen=True, slots=True)
class Skills:
    industries: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    product_lines: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A rep as routing sees them at the start of a run (or of a batch)."""

    rep_id: int
    name: str = ""
    is_active: bool = True
    on_leave: bool = False
    holdings: int = 0  # open holdings: owned or frozen, not won
    won_holdings: int = 0
    holding_cap: int | None = None
    count_won_in_cap: bool = False
    assigned_today: int = 0
    daily_capacity: int | None = None
    skills: Skills = field(default_factory=Skills)
    win_rate: float = 0.5
    weight: int = 1


@dataclass(slots=True)
class Load:
    """A rep's counts as a plan goes: they grow with every customer the plan gives them."""

    holdings: int
    won_holdings: int
    assigned_today: int

    @classmethod
    def of(cls, candidate: Candidate) -> Load:
        return cls(candidate.holdings, candidate.won_holdings, candidate.assigned_today)

    def counted_holdings(self, candidate: Candidate) -> int:
        return self.holdings + (self.won_holdings if candidate.count_won_in_cap else 0)

    def take(self, *, is_won: bool) -> None:
        if is_won:
            self.won_holdings += 1
        else:
            self.holdings += 1
        self.assigned_today += 1


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a rep was rejected, with the numbers behind it."""

    reason: Rejection
    used: int | None = None
    limit: int | None = None


def eligibility(candidate: Candidate, load: Load, capacity: int | None) -> Verdict | None:
    """``None`` when the rep may take one more customer, else the first rule they fail."""
    if not candidate.is_active:
        return Verdict(Rejection.INACTIVE)
    if candidate.on_leave:
        return Verdict(Rejection.ON_LEAVE)
    held = load.counted_holdings(candidate)
    if candidate.holding_cap is not None and held >= candidate.holding_cap:
        return Verdict(Rejection.HOLDING_CAP_REACHED, held, candidate.holding_cap)
    if capacity is not None and load.assigned_today >= capacity:
        return Verdict(Rejection.DAILY_QUOTA_REACHED, load.assigned_today, capacity)
    return None


def daily_capacity(candidate: Candidate, rule_quota: int | None) -> int | None:
    """The rep's own daily capacity, tightened by the rule's quota: the strictest wins."""
    return strictest(candidate.daily_capacity, rule_quota)


def smoothed_win_rate(won: int, lost: int) -> float:
    """Win rate with one imagined win and one imagined loss (Laplace), so that a rep with no
    decided deals counts as 50% rather than 0% or 100%."""
    return (won + 1) / (won + lost + 2)
