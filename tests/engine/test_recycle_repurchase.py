"""The repurchase window: a won customer returns N days after its last contract end (or last
won deal) unless a later won deal came (``won_repurchase_days``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.recycle import CustomerClock, RecycleRules, schedule
from tests.engine.clocks import T0, owned_clock


def clock(**overrides: object) -> CustomerClock:
    return owned_clock(**{"won_until": None, **overrides})


def test_without_a_window_a_won_customer_stays_exempt() -> None:
    plan = schedule(RecycleRules(idle_days=7), clock(is_won=True, won_until=T0))
    assert plan.due_at is None


def test_a_won_customer_returns_n_days_after_its_contract_end_with_the_warning_ahead() -> None:
    end = T0 + timedelta(days=365, hours=3, seconds=17)
    rules = RecycleRules(idle_days=7, warn_days=10, won_repurchase_days=30)
    plan = schedule(rules, clock(is_won=True, won_until=end))
    assert (plan.due_at, plan.warn_at, plan.rule, plan.limit) == (
        end + timedelta(days=30),
        end + timedelta(days=20),
        "won_repurchase",
        30,
    )


def test_the_window_counts_from_the_claim_when_taken_after_the_contract_ended() -> None:
    rules = RecycleRules(won_repurchase_days=30)
    plan = schedule(rules, clock(is_won=True, won_until=T0 - timedelta(days=100)))
    assert plan.due_at == T0 + timedelta(days=30)


def test_a_won_customer_without_a_won_deal_has_no_window() -> None:
    plan = schedule(RecycleRules(won_repurchase_days=30), clock(is_won=True))
    assert plan.due_at is None


def test_a_prospect_has_no_repurchase_window() -> None:
    plan = schedule(RecycleRules(won_repurchase_days=3), clock(won_until=T0))
    assert plan.due_at is None


def test_when_won_customers_are_not_exempt_the_earliest_limit_still_wins() -> None:
    rules = RecycleRules(idle_days=7, exempt_won=False, won_repurchase_days=30)
    plan = schedule(rules, clock(is_won=True, won_until=T0 + timedelta(days=60)))
    assert (plan.due_at, plan.rule) == (T0 + timedelta(days=7), "idle_limit")


def test_an_exempt_level_keeps_a_won_customer() -> None:
    rules = RecycleRules(won_repurchase_days=3, exempt_levels=frozenset({"A"}))
    assert schedule(rules, clock(level="A", is_won=True, won_until=T0)).due_at is None


def test_a_level_override_keeps_the_window() -> None:
    rules = RecycleRules(won_repurchase_days=3, level_overrides={"C": {"idle_days": 1}})
    plan = schedule(rules, clock(is_won=True, won_until=T0))
    assert plan.due_at == T0 + timedelta(days=3)


moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@given(
    end=moments,
    later=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=900)),
    days=st.integers(min_value=0, max_value=3650),
)
def test_a_later_won_deal_moves_the_window_past_the_old_one(
    end: datetime, later: timedelta, days: int
) -> None:
    """Whenever a new won deal ends after the last one (the anchor is the latest end), the
    customer is never due at the old window: it is due exactly at the new end + N days."""
    rules = RecycleRules(won_repurchase_days=days)
    old = schedule(rules, clock(is_won=True, owned_since=end - timedelta(days=1), won_until=end))
    new = schedule(
        rules, clock(is_won=True, owned_since=end - timedelta(days=1), won_until=end + later)
    )
    assert old.due_at == end + timedelta(days=days)
    assert new.due_at == end + later + timedelta(days=days)
    assert new.due_at is not None and not new.is_due(old.due_at)


@given(end=moments, since=moments, days=st.integers(min_value=0, max_value=3650))
def test_due_exactly_at_the_window_to_the_second(end: datetime, since: datetime, days: int) -> None:
    plan = schedule(
        RecycleRules(won_repurchase_days=days),
        clock(is_won=True, owned_since=since, won_until=end),
    )
    due = max(since, end) + timedelta(days=days)
    assert plan.due_at == due
    assert not plan.is_due(due - timedelta(seconds=1))
    assert plan.is_due(due)
