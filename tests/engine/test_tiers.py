"""Performance-linked limits: ranking, tiers and scaling; tiers never grant beyond the pool's
ceiling, and without a ceiling never beyond the pool's own limit."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.limits import ClaimLimits
from highseas.engine.tiers import (
    Ceilings,
    Tier,
    multiplier_for,
    rank_percents,
    scaled,
    scaled_limits,
    tier_errors,
)

limits = st.one_of(st.none(), st.integers(0, 10_000))
multipliers = st.decimals(0, 5, places=2)
tier_lists = st.lists(st.builds(Tier, st.floats(0.1, 100), multipliers), max_size=4)
measures = st.dictionaries(
    st.integers(1, 500), st.one_of(st.none(), st.floats(0, 1e6)), max_size=30
)


@given(measures, tier_lists, limits, limits, limits, limits, limits, limits)
def test_property_tiers_never_grant_beyond_the_pools_ceiling(
    values: dict[int, float | None],
    tiers: list[Tier],
    daily: int | None,
    weekly: int | None,
    cap: int | None,
    ceiling_daily: int | None,
    ceiling_weekly: int | None,
    ceiling_cap: int | None,
) -> None:
    pool = ClaimLimits(daily_quota=daily, weekly_quota=weekly, holding_cap=cap)
    ceilings = Ceilings(ceiling_daily, ceiling_weekly, ceiling_cap)
    for top in rank_percents(values).values():
        rep = scaled_limits(pool, multiplier_for(top, tiers), ceilings)
        for base, ceiling, granted in (
            (daily, ceiling_daily, rep.daily_quota),
            (weekly, ceiling_weekly, rep.weekly_quota),
            (cap, ceiling_cap, rep.holding_cap),
        ):
            if base is None:
                assert granted is None  # no limit stays no limit
                continue
            assert granted is not None and granted >= 0
            assert granted <= (base if ceiling is None else ceiling)


@given(st.integers(0, 10_000), multipliers, limits)
def test_a_multiplier_below_one_never_loosens(
    base: int, factor: Decimal, ceiling: int | None
) -> None:
    granted = scaled(base, factor, ceiling)
    assert granted is not None
    if factor <= 1:
        assert granted <= base


def test_scaling_by_hand() -> None:
    assert scaled(10, Decimal("1.5"), 20) == 15
    assert scaled(10, Decimal("1.5"), 12) == 12
    assert scaled(10, Decimal("1.5"), None) == 10
    assert scaled(10, Decimal("0.75"), None) == 7
    assert scaled(None, Decimal(2), 50) is None


def test_ranks_share_the_better_place_on_ties() -> None:
    found = rank_percents({1: 0.5, 2: 0.9, 3: 0.5, 4: None, 5: 0.1})
    assert found == {1: 50.0, 2: 25.0, 3: 50.0, 4: None, 5: 100.0}


def test_the_first_tier_that_holds_the_rank_applies() -> None:
    tiers = [Tier(20, Decimal("1.5")), Tier(80, Decimal(1)), Tier(100, Decimal("0.8"))]
    assert [multiplier_for(p, tiers) for p in (10, 20, 50, 90, None)] == [
        Decimal("1.5"),
        Decimal("1.5"),
        Decimal(1),
        Decimal("0.8"),
        Decimal(1),
    ]


def test_tier_errors_name_each_bad_tier() -> None:
    assert tier_errors([{"top_percent": 20, "multiplier": 1.5}]) == []
    assert tier_errors({"top_percent": 20}) == ["Use a list of tiers."]
    assert tier_errors(
        [{"top_percent": 0, "multiplier": 1}, {"top_percent": 50, "multiplier": 9}, {"x": 1}]
    ) == [
        "tier 0: top_percent between 0 and 100",
        "tier 1: multiplier between 0 and 5",
        "tier 2: top_percent and multiplier",
    ]
