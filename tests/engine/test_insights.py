"""Insight arithmetic: Gini is an inequality measure in [0, 1), the median is the middle, and
the value score never falls when a customer's wins grow."""

from __future__ import annotations

import functools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.insights import (
    Potential,
    WinHistory,
    gini,
    level_for,
    median,
    potential_share,
    value_score,
)

counts = st.lists(st.integers(0, 10_000), max_size=40)
amounts = st.decimals(0, 10_000_000, places=2, allow_nan=False, allow_infinity=False)
HALF = Decimal(100_000)


@given(counts)
def test_gini_is_in_zero_to_one(values: list[int]) -> None:
    assert 0.0 <= gini(values) < 1.0


@given(st.integers(0, 10_000), st.integers(1, 40))
def test_gini_is_zero_when_everyone_has_the_same(value: int, size: int) -> None:
    assert gini([value] * size) == 0.0


@given(counts, st.randoms())
def test_gini_does_not_depend_on_order(values: list[int], random: object) -> None:
    shuffled = list(values)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert gini(shuffled) == gini(values)


def test_gini_of_one_holder_among_four_is_three_quarters() -> None:
    assert gini([0, 0, 0, 8]) == 0.75


def test_gini_of_nobody_is_zero() -> None:
    assert gini([]) == 0.0


def test_gini_refuses_negative_values() -> None:
    with pytest.raises(ValueError):
        gini([3, -1])


def test_median_of_odd_and_even_counts() -> None:
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([]) is None


@given(
    st.integers(1, 50),
    amounts,
    amounts,
    st.floats(0, 365),
)
def test_score_never_falls_when_the_amount_grows(
    wins: int, amount: Decimal, extra: Decimal, days: float
) -> None:
    before = value_score(WinHistory(wins, amount, days), window_days=365, monetary_half=HALF)
    after = value_score(WinHistory(wins, amount + extra, days), window_days=365, monetary_half=HALF)
    assert after >= before


@given(st.integers(1, 50), amounts, st.floats(0, 365))
def test_score_never_falls_with_one_more_win(wins: int, amount: Decimal, days: float) -> None:
    before = value_score(WinHistory(wins, amount, days), window_days=365, monetary_half=HALF)
    after = value_score(WinHistory(wins + 1, amount, days), window_days=365, monetary_half=HALF)
    assert after >= before


@given(st.integers(0, 50), amounts, st.one_of(st.none(), st.floats(0, 10_000)))
def test_score_is_between_zero_and_a_hundred(
    wins: int, amount: Decimal, days: float | None
) -> None:
    score = value_score(WinHistory(wins, amount, days), window_days=365, monetary_half=HALF)
    assert 0.0 <= score <= 100.0


def test_score_without_a_win_is_zero() -> None:
    assert value_score(WinHistory(), window_days=365, monetary_half=HALF) == 0.0


def test_score_of_a_known_history() -> None:
    # r = 1 - 73/365 = 0.8; f = 2/4 = 0.5; m = 100000/200000 = 0.5
    history = WinHistory(2, Decimal(100_000), 73.0)
    assert value_score(history, window_days=365, monetary_half=HALF) == 59.0


@given(st.floats(0, 100), st.floats(0, 100))
def test_a_higher_score_never_gets_a_lower_level(low: float, high: float) -> None:
    low, high = sorted((low, high))
    assert level_for(low) >= level_for(high)  # "A" < "B" < "C"


def test_levels_at_the_thresholds() -> None:
    thresholds = {"A": 60.0, "B": 30.0}
    assert [level_for(s, thresholds) for s in (60.0, 59.99, 30.0, 29.99)] == ["A", "B", "B", "C"]


sizes = st.one_of(st.none(), st.integers(0, 1_000_000))
bands = st.sampled_from(["", "lt1m", "1m-10m", "10m-100m", "100m-1b", "gt1b"])


@given(st.integers(0, 50), amounts, st.floats(0, 365), sizes, st.integers(0, 100_000), bands)
def test_a_bigger_company_never_scores_lower(
    wins: int, amount: Decimal, days: float, employees: int | None, more: int, band: str
) -> None:
    history = WinHistory(wins, amount, days)
    smaller = Potential(employees, band)
    bigger = Potential((employees or 0) + more, band)
    score = functools.partial(value_score, history, window_days=365, monetary_half=HALF)
    assert score(potential=bigger) >= score(potential=smaller)
    assert 0.0 <= score(potential=bigger) <= 100.0


def test_potential_of_a_known_company() -> None:
    # size 600/800 = 0.75, revenue 10m-100m = 0.5, industry 1: 0.4*0.75 + 0.4*0.5 + 0.2*1 = 0.7
    assert potential_share(Potential(600, "10m-100m", 1.0)) == Decimal("0.7")
    history = WinHistory(2, Decimal(100_000), 73.0)
    score = value_score(
        history,
        window_days=365,
        monetary_half=HALF,
        potential=Potential(600, "10m-100m", 1.0),
        potential_points=20,
    )
    assert score == 59.0 + 14.0


def test_potential_never_lifts_a_score_past_a_hundred() -> None:
    history = WinHistory(1000, Decimal(10**9), 0.0)
    top = Potential(10**6, "gt1b", 1.0)
    assert value_score(history, window_days=365, monetary_half=HALF, potential=top) == 100.0
