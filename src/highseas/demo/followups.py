"""Follow-ups (跟进记录) and deals of one ownership period.

Follow-up times obey the pool's recycle policy, so that a customer the story keeps owned is
never one the policy would already have recycled:

1. the first follow-up comes within 80% of the first-contact limit after the period starts;
2. each next one comes 2 days to (idle limit - 1 day) after the previous one, in office
   hours where the window allows;
3. they stop at the period's bound, so the last one lies within (idle limit - 1 day) of it:
   an owned customer is never due at ``now``, but may be in its warning days.
"""

from __future__ import annotations

import math
import random
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from highseas.demo import data
from highseas.demo.clock import DAY, HOUR, MINUTE, DemoClock
from highseas.demo.sampling import Weighted, between, chance, one_of

EFFECTIVE_KINDS = frozenset({"call", "visit", "meeting", "wechat", "email"})
_FOLLOW_UP_KIND = Weighted.of(
    (("call", 40), ("wechat", 25), ("email", 12), ("visit", 13), ("meeting", 10))
)
_SIDE_NOTE_KIND = Weighted.of((("note", 3), ("sms", 1)))
_OPEN_DEAL_STAGE = Weighted.of((("qualification", 35), ("proposal", 35), ("negotiation", 30)))
_DEAL_AMOUNTS = {
    "lt1m": (8_000, 40_000),
    "1m-10m": (20_000, 150_000),
    "10m-100m": (80_000, 600_000),
    "100m-1b": (300_000, 3_000_000),
    "gt1b": (1_000_000, 10_000_000),
    "": (8_000, 40_000),
}


class ActivityRecord(NamedTuple):
    kind: str
    occurred_at: int
    author_id: int
    note: str
    outcome: str
    next_contact_at: int | None


class DealRecord(NamedTuple):
    name: str
    amount: Decimal
    stage: str
    owner_id: int
    expected_close: date | None
    won_at: int | None
    lost_at: int | None
    lost_reason: str
    created_at: int


class FollowUps:
    """Writes the follow-ups and deals of one customer, period after period."""

    def __init__(
        self, rng: random.Random, clock: DemoClock, short_name: str, revenue_band: str
    ) -> None:
        self.rng = rng
        self.clock = clock
        self.short_name = short_name
        self.revenue_band = revenue_band
        self.activities: list[ActivityRecord] = []
        self.deals: list[DealRecord] = []
        self._last_activity_at: int | None = None
        self._last_effective_at: int | None = None

    def times(
        self,
        start: int,
        bound: int,
        idle_days: int | None,
        first_contact_hours: int | None,
        most: int | None = None,
    ) -> list[int]:
        """Effective follow-up times from ``start`` up to ``bound`` (see the module rules)."""
        rng, clock = self.rng, self.clock
        gap_high = max(2 * DAY, ((idle_days or 31) - 1) * DAY)
        gap_low = min(2 * DAY, gap_high // 2)
        first_high = int((first_contact_hours or 48) * HOUR * 0.8)
        moment = start + 30 * MINUTE + int(rng.random() * max(first_high - 30 * MINUTE, 1))
        moment = clock.in_office_hours(rng, moment, start + 5 * MINUTE, start + first_high)
        times: list[int] = []
        while moment <= bound and (most is None or len(times) < most):
            times.append(moment)
            step = gap_low + int((gap_high - gap_low) * math.sqrt(rng.random()))
            moment = clock.in_office_hours(rng, moment + step, moment + HOUR, moment + gap_high)
        return times

    def maintenance_times(self, start: int, bound: int) -> list[int]:
        """Sparse follow-ups of a won customer: every 10 to 26 days, moved to a working day at
        most two days off, so a rep who is no hoarder never lets one rest the 30 days the
        insights console counts as hoarding."""
        rng, clock = self.rng, self.clock
        times: list[int] = []
        moment = start
        while True:
            step = between(rng, 10 * DAY, 26 * DAY)
            moment = clock.in_office_hours(rng, moment + step, moment + DAY, moment + 40 * DAY)
            if moment > bound:
                return times
            times.append(moment)

    def record(
        self, author_id: int, times: list[int], bound: int, *, plans_next: float = 0.3
    ) -> None:
        """One follow-up per time, the odd side note after one, and a next-contact date on
        30% of them (on the last one with probability ``plans_next``)."""
        rng = self.rng
        for position, moment in enumerate(times):
            is_last = position == len(times) - 1
            kind = _FOLLOW_UP_KIND.pick(rng)
            planned = chance(rng, plans_next if is_last else 0.3)
            next_contact = moment + between(rng, DAY, 10 * DAY) if planned else None
            self._add(kind, moment, author_id, next_contact)
            side_note_at = moment + between(rng, 10 * MINUTE, 3 * HOUR)
            if chance(rng, 0.1) and side_note_at <= bound:
                self._add(_SIDE_NOTE_KIND.pick(rng), side_note_at, author_id, None)

    def record_signing(self, author_id: int, moment: int, product: str) -> None:
        note = f"客户签署合同，{product}项目成交"
        self._append(ActivityRecord("visit", moment, author_id, note, "已签约", None))

    def won_deal(self, owner_id: int, created_at: int, won_at: int) -> str:
        product = one_of(self.rng, data.PRODUCT_LINES)
        self._deal(
            owner_id, product, "won", self.clock.local_date(won_at), created_at, won_at=won_at
        )
        return product

    def lost_deal(self, owner_id: int, created_at: int, lost_at: int) -> str:
        reason = one_of(self.rng, data.LOST_REASONS)
        self._deal(
            owner_id,
            one_of(self.rng, data.PRODUCT_LINES),
            "lost",
            self.clock.local_date(lost_at),
            created_at,
            lost_at=lost_at,
            lost_reason=reason,
        )
        return reason

    def open_deal(self, owner_id: int, created_at: int) -> str:
        stage = _OPEN_DEAL_STAGE.pick(self.rng)
        closes = self.clock.local_date(self.clock.now + between(self.rng, 7 * DAY, 75 * DAY))
        self._deal(owner_id, one_of(self.rng, data.PRODUCT_LINES), stage, closes, created_at)
        return stage

    @property
    def last_activity_at(self) -> int | None:
        return self._last_activity_at

    @property
    def last_effective_at(self) -> int | None:
        return self._last_effective_at

    def _deal(
        self,
        owner_id: int,
        product: str,
        stage: str,
        closes: date,
        created_at: int,
        *,
        won_at: int | None = None,
        lost_at: int | None = None,
        lost_reason: str = "",
    ) -> None:
        low, high = _DEAL_AMOUNTS[self.revenue_band]
        amount = round(math.exp(self.rng.uniform(math.log(low), math.log(high))), -2)
        self.deals.append(
            DealRecord(
                f"{self.short_name}-{product}",
                Decimal(f"{int(amount)}.00"),
                stage,
                owner_id,
                closes,
                won_at,
                lost_at,
                lost_reason,
                created_at,
            )
        )

    def _add(self, kind: str, moment: int, author_id: int, next_contact: int | None) -> None:
        rng = self.rng
        note = one_of(rng, data.NOTES[kind])
        if "{" in note:
            note = note.format(
                product=one_of(rng, data.PRODUCT_LINES),
                feature=one_of(rng, data.FEATURES),
                title=one_of(rng, data.CONTACT_TITLES)[0],
                competitor=one_of(rng, data.COMPETITORS),
                people=between(rng, 2, 8),
            )
        outcome = one_of(rng, data.OUTCOMES[kind])
        self._append(ActivityRecord(kind, moment, author_id, note, outcome, next_contact))

    def _append(self, activity: ActivityRecord) -> None:
        self.activities.append(activity)
        moment = activity.occurred_at
        if self._last_activity_at is None or moment > self._last_activity_at:
            self._last_activity_at = moment
        is_later = self._last_effective_at is None or moment > self._last_effective_at
        if activity.kind in EFFECTIVE_KINDS and is_later:
            self._last_effective_at = moment
