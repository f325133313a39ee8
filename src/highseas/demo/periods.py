"""A customer's ownership periods, written into its ledger and follow-ups.

An earlier period runs from a claim or an assignment to a release, or to a recycle exactly
when the engine's recycle schedule says (the sweep runs every few minutes). It is planned in
full before anything is written, and dropped when it does not fit before the next period.
Follow-ups keep every period clear of the recycle limits until it ends (see ``followups``);
claims stay within the rep's daily and weekly quotas, else the manager assigns.
"""

from __future__ import annotations

import random

from highseas.demo import data, habits, talent
from highseas.demo.book import OwnershipBook
from highseas.demo.clock import DAY, HOUR, MINUTE, DemoClock
from highseas.demo.followups import FollowUps
from highseas.demo.ledger import LedgerWriter
from highseas.demo.profiles import CustomerProfile
from highseas.demo.recycling import RecyclePlan, RecycleTimer
from highseas.demo.sampling import Weighted, between, chance, one_of
from highseas.demo.world import Actor, PoolWorld, Rep
from highseas.pools import reasons
from highseas.pools.reasons import Reason

_PAST_PERIODS = Weighted.of(((0, 55), (1, 30), (2, 12), (3, 3)))
_PAST_FOLLOW_UPS = Weighted.of(((0, 15), (1, 25), (2, 25), (3, 18), (4, 10), (5, 7)))
NO_LIMIT = 10 * 365 * DAY


class OwnershipPeriods:
    """One customer's ledger and follow-ups being written, and the ways to add ownership
    periods to them; ``story`` builds the whole story on top."""

    def __init__(
        self,
        rng: random.Random,
        clock: DemoClock,
        book: OwnershipBook,
        pool: PoolWorld,
        profile: CustomerProfile,
    ) -> None:
        self.rng = rng
        self.clock = clock
        self.now = clock.now
        self.book = book
        self.pool = pool
        self.profile = profile
        self.ledger = LedgerWriter()
        self.follow_ups = FollowUps(rng, clock, profile.short_name, profile.revenue_band)
        self.timer = RecycleTimer(pool.recycle, profile.level)
        self.rules = pool.recycle.for_level(profile.level)
        no_deal_days = self.rules.no_deal_days
        self.no_deal = NO_LIMIT if no_deal_days is None else no_deal_days * DAY
        self.lost_reason = ""

    def _pick_owner(
        self,
        moment: int,
        excluded: set[int],
        *,
        counts: bool,
        freezing: bool = False,
        winning: bool = False,
    ) -> Rep | None:
        """A random employed rep of the pool's team who is free to take one more customer,
        a grabbing rep more often (``habits``); for a customer that will be won
        (``winning``), a rep strong with it is likelier."""
        limits, grab = self.pool.claim, habits.picker(self.pool)
        for attempt in range(8):
            rep = grab.pick(self.rng)
            if rep.index in excluded or not rep.can_take_customer_at(moment):
                continue
            if winning and attempt < 6 and self.rng.random() > self._chance(rep):
                continue
            if counts and not self.book.has_room(rep, limits):
                continue
            if freezing and not self.book.can_freeze(rep, limits):
                continue
            return rep
        return None

    def _chance(self, rep: Rep) -> float:
        return talent.win_chance(rep.index, self.profile.industry, self.profile.province)

    def _past_periods(self, since: int, limit: int, excluded: set[int]) -> None:
        moment = since
        for _ in range(_PAST_PERIODS.pick(self.rng)):
            ended = self._past_period(moment, limit, excluded)
            if ended is None:
                return
            moment = ended

    def _past_period(self, since: int, limit: int, excluded: set[int]) -> int | None:
        """One earlier owner, from a claim or an assignment to a release or a recycle; ``None``
        (and nothing written) when it does not fit before ``limit``."""
        rng, clock = self.rng, self.clock
        wait = since + between(rng, 2 * HOUR, 12 * DAY)
        start = clock.in_office_hours(rng, wait, since + 10 * MINUTE, limit)
        owner = self._pick_owner(start, excluded, counts=False) if start < limit - DAY else None
        if owner is None:
            return None
        bound = min(limit, owner.works_until(self.now), start + self.no_deal - DAY)
        most = _PAST_FOLLOW_UPS.pick(rng)
        times = self._follow_up_times(start, bound, most)
        last = times[-1] if times else None
        plan = self.timer.plan(start, last_effective_at=last, last_activity_at=last)
        releases = plan.due_at is None or chance(rng, 0.45)
        if releases:
            low = (last or start) + HOUR
            high = limit if plan.due_at is None else plan.due_at - HOUR
            end = clock.in_office_hours(rng, between(rng, low, high), low, high)
        else:
            assert plan.due_at is not None
            end = plan.due_at + between(rng, MINUTE, 10 * MINUTE)  # the sweep runs often
        if end > limit:
            return None
        claims = habits.claims(rng, self.pool, owner, 0.75)
        self._acquire(owner, start, "claimed" if claims else "assigned")
        self._write_past_follow_ups(owner, times, end, releases)
        if not releases:
            self._recycle(plan, end)
        excluded.add(owner.index)
        return end

    def _write_past_follow_ups(
        self, owner: Rep, times: list[int], end: int, releases: bool
    ) -> None:
        """The follow-ups of an earlier period, the deal lost on the way, and the release."""
        rng, lost_reason = self.rng, ""
        # a deal lost on the way: likelier where the rep is weak (talent.py)
        if len(times) >= 2 and chance(rng, 0.5 * (1 - self._chance(owner))):
            opened, lost = times[0] + 30 * MINUTE, times[-1] + 10 * MINUTE
            lost_reason = self.follow_ups.lost_deal(owner.user_id, opened, lost)
            self.lost_reason = lost_reason
        self.follow_ups.record(owner.user_id, times, end)
        if releases:
            if lost_reason:
                reason = f"商机输单（{lost_reason}），退回公海"
            else:
                reason = one_of(
                    rng, data.RELEASE_REASONS if times else data.RELEASE_REASONS_UNREACHED
                )
            self.ledger.record("released", "pooled", None, owner.actor, reason, end)

    def _leaver_period(self, created: int, leaver: Rep) -> None:
        """The customer's earlier owner left the company; their manager transfers it."""
        assert leaver.departed_at is not None
        low = max(created + 10 * MINUTE, leaver.departed_at - int(0.9 * self.no_deal))
        high = leaver.departed_at - 3 * DAY
        start = self.clock.in_office_hours(self.rng, between(self.rng, low, high), low, high)
        self._acquire(leaver, start, "claimed")
        bound = leaver.departed_at - HOUR
        self.follow_ups.record(leaver.user_id, self._follow_up_times(start, bound), bound)

    def _follow_up_times(self, start: int, bound: int, most: int | None = None) -> list[int]:
        first_contact = self.rules.first_contact_hours
        return self.follow_ups.times(start, bound, self.rules.idle_days, first_contact, most)

    def _acquire(self, owner: Rep, at: int, how: str) -> int:
        """A claim (within the rep's quota, else the manager assigns) or an assignment."""
        rng = self.rng
        if how == "claimed" and self.book.can_claim(owner, at, self.pool.claim):
            self.book.record_claim(owner, at)
            words = one_of(rng, data.CLAIM_REASONS)
            reason = Reason(reasons.CLAIMED) if words == data.PLAIN_CLAIM else words
            return self.ledger.record("claimed", "owned", owner.user_id, owner.actor, reason, at)
        reason = one_of(rng, data.ASSIGN_REASONS)
        manager = self.pool.manager
        return self.ledger.record("assigned", "owned", owner.user_id, manager, reason, at)

    def _recycle(self, plan: RecyclePlan, at: int) -> None:
        reason = reasons.recycled(plan.rule, plan.limit)
        actor = Actor(None, f"system:{plan.rule}")
        policy_ref = f"pool:{self.pool.id}/recycle_policy"
        self.ledger.record("recycled", "pooled", None, actor, reason, at, policy_ref)
