"""When an owned customer falls due for recycling, and when its owner is warned (SPEC §6).

Given the pool's recycle rules and a snapshot of the customer, ``schedule`` returns the due
time, the warning time and the rule that sets the due time:

1. only ``owned`` customers are scheduled: pooled ones have no owner, frozen ones are
   protected until they are unfrozen (the schedule is recomputed then);
2. exempt customers (won when ``exempt_won``, with an open deal when ``exempt_open_deal``,
   of a level in ``exempt_levels``) are not scheduled;
3. per-level overrides replace the pool's limits for that level;
4. candidate due times: the idle limit counted from the later of ``owned_since`` and the last
   effective follow-up; the no-deal limit counted from ``owned_since`` (won customers never
   hit it); the first-contact limit counted from ``owned_since`` while there has been no
   activity at all since then. The earliest candidate wins;
5. the repurchase window (``won_repurchase_days``, null = won customers stay): a won customer
   falls due that many days after ``won_until`` -- the latest of its won deals' contract ends
   (a won deal without one counts with its ``won_at``), so a later won deal moves it -- counted
   from ``owned_since`` instead when the customer was taken after that moment. When
   ``exempt_won`` is set this is the only limit a won customer has; otherwise it is one more
   candidate. A won customer without any won deal has no window;
6. the warning is ``warn_days`` before the due time. When that moment is not after
   ``owned_since`` (the due time was already closer than the warning window when the
   customer was taken), the owner is warned ``late_warning_fraction`` of the way from
   ``owned_since`` to the due time instead (half-way by default), never at the claim itself;
   a due time not after ``owned_since`` warns at ``owned_since``;
7. leave (``leave_mode == "pause"``, the default): the owner's recorded leaves
   (``CustomerClock.pauses``, each ``[start, end)``) stop every clock. A candidate counted from
   ``anchor`` that would fall due at or after a leave's start is pushed by the part of the
   leave after the anchor (``end - max(start, anchor)``); a leave that ended before the anchor
   or starts after the due time changes nothing. So nothing falls due during a leave and the
   countdown resumes where it stopped. A warning that would fall inside a leave moves to its
   end. With ``leave_mode == "cover"`` leaves change nothing (a colleague follows up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from highseas.engine.ownership import Status


@dataclass(frozen=True, slots=True)
class RecycleRules:
    idle_days: int | None = None
    no_deal_days: int | None = None
    first_contact_hours: int | None = None
    warn_days: int | None = None
    exempt_won: bool = True
    exempt_open_deal: bool = False
    exempt_levels: frozenset[str] = frozenset()
    level_overrides: dict[str, dict[str, int | None]] = field(default_factory=dict)
    won_repurchase_days: int | None = None
    leave_mode: str = "pause"
    late_warning_fraction: float = 0.5  # a deployment setting, not a policy column

    def for_level(self, level: str) -> RecycleRules:
        override = self.level_overrides.get(level)
        if not override:
            return self
        return RecycleRules(
            idle_days=override.get("idle_days", self.idle_days),
            no_deal_days=override.get("no_deal_days", self.no_deal_days),
            first_contact_hours=override.get("first_contact_hours", self.first_contact_hours),
            warn_days=override.get("warn_days", self.warn_days),
            exempt_won=self.exempt_won,
            exempt_open_deal=self.exempt_open_deal,
            exempt_levels=self.exempt_levels,
            won_repurchase_days=self.won_repurchase_days,
            leave_mode=self.leave_mode,
            late_warning_fraction=self.late_warning_fraction,
        )


@dataclass(frozen=True, slots=True)
class CustomerClock:
    status: Status
    level: str
    is_won: bool
    has_open_deal: bool
    owned_since: datetime | None
    last_effective_activity_at: datetime | None
    last_activity_at: datetime | None
    won_until: datetime | None = None  # latest contract end (or won_at) of the won deals
    pauses: tuple[tuple[datetime, datetime], ...] = ()  # the owner's leaves, [start, end)


@dataclass(frozen=True, slots=True)
class Schedule:
    due_at: datetime | None = None
    warn_at: datetime | None = None
    rule: str = ""
    limit: int | None = None  # the days (or hours, for first contact) of the deciding rule

    def is_due(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at <= now


NOT_SCHEDULED = Schedule()


def _is_exempt(rules: RecycleRules, clock: CustomerClock) -> bool:
    return (
        (rules.exempt_won and clock.is_won and rules.won_repurchase_days is None)
        or (rules.exempt_open_deal and clock.has_open_deal)
        or clock.level in rules.exempt_levels
    )


Pauses = tuple[tuple[datetime, datetime], ...]


def paused_due(anchor: datetime, length: timedelta, pauses: Pauses) -> datetime:
    """When a clock started at ``anchor`` has run ``length`` outside the pauses (rule 7)."""
    due = anchor + length
    for start, end in sorted(pauses):
        if end <= anchor or due < start:
            continue
        due += end - max(start, anchor)
    return due


def _warn_outside(warn_at: datetime, pauses: Pauses) -> datetime:
    for start, end in pauses:
        if start <= warn_at < end:
            return end
    return warn_at


def _pauses(rules: RecycleRules, clock: CustomerClock) -> Pauses:
    return clock.pauses if rules.leave_mode == "pause" else ()


def _candidates(
    rules: RecycleRules, clock: CustomerClock, since: datetime
) -> list[tuple[datetime, str, int]]:
    """Each limit that applies, as (due time, rule, the limit's number)."""
    found: list[tuple[datetime, str, int]] = []
    pauses = _pauses(rules, clock)
    if rules.idle_days is not None:
        idle_from = max(since, clock.last_effective_activity_at or since)
        due = paused_due(idle_from, timedelta(days=rules.idle_days), pauses)
        found.append((due, "idle_limit", rules.idle_days))
    if rules.no_deal_days is not None and not clock.is_won:
        due = paused_due(since, timedelta(days=rules.no_deal_days), pauses)
        found.append((due, "no_deal_limit", rules.no_deal_days))
    contacted = clock.last_activity_at is not None and clock.last_activity_at >= since
    if rules.first_contact_hours is not None and not contacted:
        due = paused_due(since, timedelta(hours=rules.first_contact_hours), pauses)
        found.append((due, "first_contact_limit", rules.first_contact_hours))
    return found


def _repurchase(
    rules: RecycleRules, clock: CustomerClock, since: datetime
) -> list[tuple[datetime, str, int]]:
    days = rules.won_repurchase_days
    if days is None or not clock.is_won or clock.won_until is None:
        return []
    anchor = max(since, clock.won_until)
    due = paused_due(anchor, timedelta(days=days), _pauses(rules, clock))
    return [(due, "won_repurchase", days)]


def warning_time(owned_since: datetime, due_at: datetime, rules: RecycleRules) -> datetime:
    """When the owner is warned of ``due_at`` (rule 6; ``rules.warn_days`` is set)."""
    ahead = due_at - timedelta(days=rules.warn_days or 0)
    if ahead > owned_since:
        return ahead
    return late_warning_time(owned_since, due_at, rules.late_warning_fraction)


def late_warning_time(owned_since: datetime, due_at: datetime, fraction: float) -> datetime:
    """The warning of a due time closer than the warning window at ``owned_since``."""
    if due_at <= owned_since:
        return owned_since
    return owned_since + (due_at - owned_since) * fraction


def schedule(rules: RecycleRules | None, clock: CustomerClock) -> Schedule:
    if rules is None or clock.status is not Status.OWNED or clock.owned_since is None:
        return NOT_SCHEDULED
    rules = rules.for_level(clock.level)
    if _is_exempt(rules, clock):
        return NOT_SCHEDULED
    won_only = rules.exempt_won and clock.is_won
    candidates = [] if won_only else _candidates(rules, clock, clock.owned_since)
    candidates += _repurchase(rules, clock, clock.owned_since)
    if not candidates:
        return NOT_SCHEDULED
    due_at, rule, limit = min(candidates)
    warn_at = None
    if rules.warn_days is not None:
        warn_at = warning_time(clock.owned_since, due_at, rules)
        warn_at = _warn_outside(warn_at, _pauses(rules, clock))
    return Schedule(due_at, warn_at, rule, limit)
