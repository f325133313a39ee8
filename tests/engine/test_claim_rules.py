"""Claim rules as pure functions: limits combine strictly, quotas and caps hold, cooldown ends
to the second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.claims import ClaimFacts, decide_claim
from highseas.engine.errors import ErrorCode
from highseas.engine.limits import ClaimLimits, RepOverrides, effective_limits, strictest
from highseas.engine.ownership import Status

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
limits_values = st.one_of(st.none(), st.integers(0, 50))


def facts(**overrides: object) -> ClaimFacts:
    base: dict[str, object] = dict(
        status=Status.POOLED,
        is_member=True,
        holder_name=None,
        holdings=0,
        claims_today=0,
        claims_this_week=0,
        lost_at=None,
    )
    return ClaimFacts(**{**base, **overrides})  # type: ignore[arg-type]


@given(limits_values, limits_values)
def test_the_strictest_limit_wins(pool_limit: int | None, rep_limit: int | None) -> None:
    combined = strictest(pool_limit, rep_limit)
    if pool_limit is None or rep_limit is None:
        assert combined == (rep_limit if pool_limit is None else pool_limit)
    else:
        assert combined == min(pool_limit, rep_limit)


def test_an_override_tightens_but_never_loosens() -> None:
    pool = ClaimLimits(daily_quota=10, holding_cap=100)
    assert effective_limits(pool, RepOverrides(daily_quota=3)).daily_quota == 3
    assert effective_limits(pool, RepOverrides(holding_cap=500)).holding_cap == 100


@st.composite
def claim_sessions(draw: st.DrawFn) -> tuple[ClaimLimits, list[str]]:
    limits = ClaimLimits(
        daily_quota=draw(limits_values),
        weekly_quota=draw(limits_values),
        holding_cap=draw(limits_values),
    )
    steps = draw(st.lists(st.sampled_from(["claim", "claim", "release", "new_day"]), max_size=120))
    return limits, steps


@given(claim_sessions())
def test_no_sequence_of_claims_and_releases_passes_quota_or_cap(
    session: tuple[ClaimLimits, list[str]],
) -> None:
    """Replay a rep's day(s): the rules never let holdings or claims pass their limits."""
    limits, steps = session
    holdings = today = week = 0
    for step in steps:
        if step == "new_day":
            today = 0
        elif step == "release":
            holdings = max(holdings - 1, 0)
        elif (
            decide_claim(
                limits, facts(holdings=holdings, claims_today=today, claims_this_week=week), NOW
            )
            is None
        ):
            holdings, today, week = holdings + 1, today + 1, week + 1
        assert limits.holding_cap is None or holdings <= limits.holding_cap
        assert limits.daily_quota is None or today <= limits.daily_quota
        assert limits.weekly_quota is None or week <= limits.weekly_quota


@given(st.integers(1, 30))
def test_cooldown_holds_to_its_last_second(days: int) -> None:
    limits = ClaimLimits(reclaim_cooldown_days=days)
    lost = NOW - timedelta(days=days)
    just_before = decide_claim(limits, facts(lost_at=lost + timedelta(seconds=1)), NOW)
    assert just_before is not None
    assert just_before.code is ErrorCode.RECLAIM_COOLDOWN
    assert just_before.facts["cooldown_ends_at"] == (NOW + timedelta(seconds=1)).isoformat()
    assert decide_claim(limits, facts(lost_at=lost), NOW) is None


@pytest.mark.parametrize(
    ("fact_overrides", "limits", "code"),
    [
        ({"is_member": False}, ClaimLimits(), ErrorCode.NOT_POOL_MEMBER),
        ({"status": Status.OWNED, "holder_name": "王芳"}, ClaimLimits(), ErrorCode.ALREADY_OWNED),
        ({"status": Status.FROZEN, "holder_name": "王芳"}, ClaimLimits(), ErrorCode.ALREADY_OWNED),
        ({"claims_today": 5}, ClaimLimits(daily_quota=5), ErrorCode.CLAIM_QUOTA_EXCEEDED),
        ({"claims_this_week": 9}, ClaimLimits(weekly_quota=9), ErrorCode.CLAIM_QUOTA_EXCEEDED),
        ({"holdings": 3}, ClaimLimits(holding_cap=3), ErrorCode.HOLDING_CAP_REACHED),
    ],
)
def test_each_refusal_has_its_code(
    fact_overrides: dict[str, object], limits: ClaimLimits, code: ErrorCode
) -> None:
    refusal = decide_claim(limits, facts(**fact_overrides), NOW)
    assert refusal is not None and refusal.code is code


def test_already_owned_names_the_holder() -> None:
    refusal = decide_claim(ClaimLimits(), facts(status=Status.OWNED, holder_name="王芳"), NOW)
    assert refusal is not None
    assert refusal.facts == {"holder": "王芳", "status": "owned"}


def test_quota_refusal_reports_used_and_limit() -> None:
    refusal = decide_claim(ClaimLimits(daily_quota=2), facts(claims_today=2), NOW)
    assert refusal is not None
    assert refusal.facts == {"period": "day", "used": 2, "limit": 2}


def test_a_non_member_learns_nothing_about_the_holder() -> None:
    refusal = decide_claim(
        ClaimLimits(), facts(is_member=False, status=Status.OWNED, holder_name="王芳"), NOW
    )
    assert refusal is not None and "holder" not in refusal.facts
