"""The recycle schedule a claim or assignment sets (the sweep itself is a later step)."""

from __future__ import annotations

from datetime import timedelta

from highseas.engine.ownership import Status
from highseas.engine.recycle import RecycleRules, schedule, warning_time
from tests.engine.clocks import T0, owned_clock

clock = owned_clock


def test_idle_limit_counts_from_the_claim() -> None:
    plan = schedule(RecycleRules(idle_days=7, warn_days=3), clock())
    assert (plan.due_at, plan.warn_at, plan.rule) == (
        T0 + timedelta(days=7),
        T0 + timedelta(days=4),
        "idle_limit",
    )


def test_an_effective_follow_up_restarts_the_idle_clock() -> None:
    later = T0 + timedelta(days=5)
    plan = schedule(RecycleRules(idle_days=7), clock(last_effective_activity_at=later))
    assert plan.due_at == later + timedelta(days=7)


def test_a_follow_up_before_the_claim_does_not_count() -> None:
    plan = schedule(
        RecycleRules(idle_days=7), clock(last_effective_activity_at=T0 - timedelta(days=3))
    )
    assert plan.due_at == T0 + timedelta(days=7)


def test_the_earliest_limit_wins() -> None:
    rules = RecycleRules(idle_days=15, no_deal_days=90, first_contact_hours=48)
    plan = schedule(rules, clock())
    assert (plan.due_at, plan.rule) == (T0 + timedelta(hours=48), "first_contact_limit")
    contacted = schedule(rules, clock(last_activity_at=T0 + timedelta(hours=1)))
    assert (contacted.due_at, contacted.rule) == (T0 + timedelta(days=15), "idle_limit")


def test_level_overrides_replace_the_pool_limit() -> None:
    rules = RecycleRules(idle_days=7, level_overrides={"A": {"idle_days": 30}})
    assert schedule(rules, clock(level="A")).due_at == T0 + timedelta(days=30)
    assert schedule(rules, clock(level="B")).due_at == T0 + timedelta(days=7)


def test_exempt_customers_are_not_scheduled() -> None:
    rules = RecycleRules(idle_days=7, exempt_open_deal=True, exempt_levels=frozenset({"A"}))
    assert schedule(rules, clock(is_won=True)).due_at is None
    assert schedule(rules, clock(has_open_deal=True)).due_at is None
    assert schedule(rules, clock(level="A")).due_at is None


def test_pooled_and_frozen_customers_are_not_scheduled() -> None:
    rules = RecycleRules(idle_days=7)
    assert schedule(rules, clock(status=Status.POOLED)).due_at is None
    assert schedule(rules, clock(status=Status.FROZEN)).due_at is None


def test_a_due_time_inside_the_warning_window_is_warned_half_way_not_at_the_claim() -> None:
    plan = schedule(RecycleRules(idle_days=2, warn_days=5), clock())
    assert plan.warn_at == T0 + timedelta(days=1)


def test_the_late_warning_fraction_is_a_parameter() -> None:
    rules = RecycleRules(first_contact_hours=48, warn_days=3, late_warning_fraction=0.75)
    assert schedule(rules, clock()).warn_at == T0 + timedelta(hours=36)


def test_a_warning_window_that_fits_is_unchanged() -> None:
    plan = schedule(RecycleRules(idle_days=10, warn_days=3), clock())
    assert plan.warn_at == T0 + timedelta(days=7)


def test_a_due_time_at_the_claim_warns_at_the_claim() -> None:
    rules = RecycleRules(idle_days=10, warn_days=3)
    assert warning_time(T0, T0, rules) == T0
    assert warning_time(T0, T0 - timedelta(hours=1), rules) == T0
