"""Insight arithmetic as pure functions: inequality (Gini), medians, and the customer value
score (recency, frequency, monetary over a window) with its mapping to a level.

The value score is a number in [0, 100]:

- recency ``r = 1 - days_since_last_win / window_days`` (0 without a win in the window);
- frequency ``f = wins / (wins + FREQUENCY_HALF)`` (half-way at ``FREQUENCY_HALF`` wins);
- monetary ``m = amount / (amount + monetary_half)`` (half-way at ``monetary_half`` yuan);
- ``score = 100 * (0.3 r + 0.3 f + 0.4 m)``, rounded to two decimals.

Each part grows with what it measures and saturates below 1, so the score never falls when a
win is added or an amount grows.

Potential adds at most ``potential_points`` (default 20) to it, capped at 100:
``potential_points * (0.4 size + 0.4 revenue + 0.2 industry)`` where size is
``employees / (employees + EMPLOYEES_HALF)``, revenue the band's place on the ladder
(``REVENUE_BAND_SHARE``: under ¥1M 0 … over ¥1B 1; unknown 0) and industry the organization's
weight for the customer's industry in [0, 1] (unknown 0). A bigger company never scores lower.

A level follows from thresholds ``{"A": a, "B": b}`` (``a >= b``): ``score >= a`` is A,
``score >= b`` is B, anything else is C.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

RECENCY_WEIGHT = Decimal("0.3")
FREQUENCY_WEIGHT = Decimal("0.3")
MONETARY_WEIGHT = Decimal("0.4")
FREQUENCY_HALF = Decimal(2)
DEFAULT_THRESHOLDS: Mapping[str, float] = {"A": 60.0, "B": 30.0}
DEFAULT_POTENTIAL_POINTS = 20.0
EMPLOYEES_HALF = Decimal(200)
SIZE_WEIGHT = Decimal("0.4")
REVENUE_WEIGHT = Decimal("0.4")
INDUSTRY_WEIGHT = Decimal("0.2")
REVENUE_BAND_SHARE: Mapping[str, Decimal] = {
    "lt1m": Decimal(0),
    "1m-10m": Decimal("0.25"),
    "10m-100m": Decimal("0.5"),
    "100m-1b": Decimal("0.75"),
    "gt1b": Decimal(1),
}


def gini(values: Sequence[int | float | Decimal]) -> float:
    """The Gini coefficient of non-negative values: 0 when everyone has the same (or there is
    nobody, or nothing to share), approaching 1 as one holder takes everything (at most
    ``1 - 1/n`` for n holders). Order does not matter."""
    ordered = sorted(Decimal(value) for value in values)
    count = len(ordered)
    total = sum(ordered, Decimal(0))
    if count == 0 or total == 0:
        return 0.0
    if ordered[0] < 0:
        raise ValueError("Gini needs non-negative values")
    # G = sum_i (2i - n - 1) x_(i) / (n * total), i = 1..n over the values in ascending order
    weighted = sum(((2 * rank - count - 1) * value for rank, value in enumerate(ordered, 1)), 0)
    return float(Decimal(weighted) / (count * total))


def median(values: Sequence[float]) -> float | None:
    """The median (the mean of the two middle values for an even count); None when empty."""
    ordered = sorted(values)
    count = len(ordered)
    if count == 0:
        return None
    middle = count // 2
    if count % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True, slots=True)
class WinHistory:
    """A customer's won deals within the scoring window."""

    wins: int = 0
    amount: Decimal = Decimal(0)
    days_since_last_win: float | None = None  # None without a win in the window


@dataclass(frozen=True, slots=True)
class Potential:
    """What a customer could be worth: its size, revenue band and industry's weight."""

    employees: int | None = None
    revenue_band: str = ""
    industry_weight: float = 0.0  # the organization's weight for the industry, in [0, 1]


def potential_share(potential: Potential) -> Decimal:
    """Potential in [0, 1] (module docstring)."""
    employees = Decimal(max(potential.employees or 0, 0))
    size = employees / (employees + EMPLOYEES_HALF)
    revenue = REVENUE_BAND_SHARE.get(potential.revenue_band, Decimal(0))
    industry = min(max(Decimal(str(potential.industry_weight)), Decimal(0)), Decimal(1))
    return SIZE_WEIGHT * size + REVENUE_WEIGHT * revenue + INDUSTRY_WEIGHT * industry


def value_score(
    history: WinHistory,
    *,
    window_days: int,
    monetary_half: Decimal,
    potential: Potential | None = None,
    potential_points: float = DEFAULT_POTENTIAL_POINTS,
) -> float:
    """The value score in [0, 100] of a customer's win history and potential (module
    docstring)."""
    points = Decimal(str(max(potential_points, 0.0)))
    bonus = points * potential_share(potential) if potential is not None else Decimal(0)
    score = min(Decimal(100), _history_points(history, window_days, monetary_half) + bonus)
    return float(score.quantize(Decimal("0.01")))


def _history_points(history: WinHistory, window_days: int, monetary_half: Decimal) -> Decimal:
    if history.wins <= 0 or window_days <= 0:
        return Decimal(0)
    days = Decimal(str(max(history.days_since_last_win or 0.0, 0.0)))
    recency = max(Decimal(0), 1 - days / window_days)
    wins = Decimal(history.wins)
    frequency = wins / (wins + FREQUENCY_HALF)
    amount = max(history.amount, Decimal(0))
    half = monetary_half if monetary_half > 0 else Decimal(1)
    monetary = amount / (amount + half)
    return 100 * (
        RECENCY_WEIGHT * recency + FREQUENCY_WEIGHT * frequency + MONETARY_WEIGHT * monetary
    )


def level_for(score: float, thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS) -> str:
    """A, B or C for a score, by the thresholds (module docstring)."""
    if score >= thresholds["A"]:
        return "A"
    if score >= thresholds["B"]:
        return "B"
    return "C"
