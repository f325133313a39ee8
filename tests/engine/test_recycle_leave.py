"""Leave pauses the recycle clocks (``engine.recycle`` rule 7): no database."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.recycle import CustomerClock, RecycleRules, paused_due, schedule
from tests.engine.clocks import T0, owned_clock

DAY = timedelta(days=1)
LEAVE = ((T0 + 3 * DAY, T0 + 6 * DAY),)  # three days, starting three days after T0


def clock(**overrides: object) -> CustomerClock:
    return owned_clock(**{"pauses": LEAVE, **overrides})


def test_a_leave_inside_the_countdown_pushes_the_due_time_by_its_length() -> None:
    plan = schedule(RecycleRules(idle_days=10, warn_days=2), clock())
    assert (plan.due_at, plan.warn_at) == (T0 + 13 * DAY, T0 + 11 * DAY)


def test_a_clock_started_during_the_leave_starts_counting_when_it_ends() -> None:
    plan = schedule(RecycleRules(idle_days=10), clock(owned_since=T0 + 4 * DAY))
    assert plan.due_at == T0 + 16 * DAY


def test_a_leave_after_the_due_time_or_before_the_clock_changes_nothing() -> None:
    rules = RecycleRules(idle_days=2)
    assert schedule(rules, clock()).due_at == T0 + 2 * DAY
    assert schedule(rules, clock(owned_since=T0 + 7 * DAY)).due_at == T0 + 9 * DAY


def test_a_countdown_that_would_end_during_the_leave_ends_after_it() -> None:
    plan = schedule(RecycleRules(first_contact_hours=96), clock())  # due at T0 + 4 days
    assert plan.due_at == T0 + 7 * DAY


def test_a_warning_that_would_fall_in_the_leave_comes_when_it_ends() -> None:
    plan = schedule(RecycleRules(idle_days=5, warn_days=4), clock())  # due T0 + 8d, warn T0 + 4d
    assert (plan.due_at, plan.warn_at) == (T0 + 8 * DAY, T0 + 6 * DAY)


def test_the_repurchase_window_pauses_too() -> None:
    rules = RecycleRules(won_repurchase_days=10)
    plan = schedule(rules, clock(is_won=True, won_until=T0))
    assert (plan.due_at, plan.rule) == (T0 + 13 * DAY, "won_repurchase")
    unpaused = schedule(rules, clock(is_won=True, won_until=T0, pauses=()))
    assert unpaused.due_at == T0 + 10 * DAY


def test_in_cover_mode_the_clocks_run_through_the_leave() -> None:
    plan = schedule(RecycleRules(idle_days=10, leave_mode="cover"), clock())
    assert plan.due_at == T0 + 10 * DAY


def test_level_overrides_keep_the_leave_mode() -> None:
    rules = RecycleRules(idle_days=10, leave_mode="cover", level_overrides={"C": {"idle_days": 4}})
    assert schedule(rules, clock()).due_at == T0 + 4 * DAY


hours = st.integers(min_value=0, max_value=24 * 60)


@given(anchor=hours, length=hours, start=hours, span=st.integers(min_value=1, max_value=24 * 30))
def test_a_paused_clock_never_falls_due_inside_the_pause_and_runs_exactly_its_length(
    anchor: int, length: int, start: int, span: int
) -> None:
    h = timedelta(hours=1)
    begin, end = T0 + start * h, T0 + (start + span) * h
    due = paused_due(T0 + anchor * h, length * h, ((begin, end),))
    assert not begin <= due < end
    running = due - (T0 + anchor * h)
    overlap = max(timedelta(0), min(due, end) - max(begin, T0 + anchor * h))
    assert running - overlap == length * h
