"""One customer's life in its pool: ledger events, follow-ups and deals, and the ownership
fields they lead to.

A story is planned backwards from its end and written forwards:

1. pick the final status (pooled / owned / frozen) and, for an owned customer, how the
   current owner got it (registered, claimed, assigned, or transferred from a rep who left),
   when, and how it is going (won, an open deal, nothing yet);
2. fill the time before that with earlier ownership periods, each ending in a release, or in
   a recycle exactly when the engine's recycle schedule says;
3. write the current period with follow-ups that keep it clear of every recycle limit, then
   the freeze, if any.

Every event starts from the state the previous one produced, so the ledger replays to the
final state; event times strictly increase and never pass ``now``. Claims stay within the
daily and weekly quotas, holdings within the holding cap, freezes within the frozen limit
and the longest freeze, and nobody claims back a customer they held before.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from highseas.demo import data
from highseas.demo.book import OwnershipBook
from highseas.demo.clock import DAY, HOUR, MINUTE
from highseas.demo.followups import ActivityRecord, DealRecord, FollowUps
from highseas.demo.ledger import EventRecord, LedgerWriter
from highseas.demo.profiles import CustomerProfile
from highseas.demo.recycling import RecyclePlan, RecycleTimer
from highseas.demo.sampling import Weighted, between, chance, one_of
from highseas.demo.world import Actor, DemoWorld, PoolWorld, Rep
from highseas.engine.ownership import Status

FINAL_STATUS = Weighted.of((("pooled", 38), ("owned", 58), ("frozen", 4)))
OUTCOME = Weighted.of((("won", 18), ("open", 30), ("none", 52)))
_PAST_PERIODS = Weighted.of(((0, 55), (1, 30), (2, 12), (3, 3)))
_PAST_FOLLOW_UPS = Weighted.of(((0, 15), (1, 25), (2, 25), (3, 18), (4, 10), (5, 7)))
_REGISTERING_SOURCES = frozenset({"referral", "cold_call", "other", "exhibition", "partner"})
_RECYCLE_REASONS = {
    "idle_limit": "超过{limit}天未有效跟进，系统自动回收",
    "no_deal_limit": "领取超过{limit}天未成交，系统自动回收",
    "first_contact_limit": "领取后{limit}小时内未跟进，系统自动回收",
}
_NO_LIMIT = 10 * 365 * DAY


def holding_share() -> float:
    """The expected share of customers held against a holding cap (owned, not won)."""
    held = FINAL_STATUS.share("owned") + FINAL_STATUS.share("frozen")
    return held * (1 - OUTCOME.share("won"))


@dataclass(slots=True)
class Story:
    pool_id: int
    created_at: int
    created_by_id: int | None
    status: str
    owner_id: int | None
    owned_since: int | None
    frozen_until: int | None
    previous_owner_id: int | None
    stage: str
    last_activity_at: int | None
    last_effective_at: int | None
    recycle_due_at: int | None
    warn_at: int | None
    updated_at: int
    events: list[EventRecord]
    activities: list[ActivityRecord]
    deals: list[DealRecord]


@dataclass(slots=True)
class _Current:
    """The plan for the current owner."""

    owner: Rep
    start: int
    how: str  # registered | claimed | assigned | transferred
    outcome: str  # won | open | none
    is_frozen: bool
    leaver: Rep | None = None  # the rep who left, for a transferred customer


class StoryTeller:
    def __init__(self, rng: random.Random, world: DemoWorld, book: OwnershipBook) -> None:
        self.rng = rng
        self.world = world
        self.book = book

    def tell(self, profile: CustomerProfile) -> Story:
        pool = self.world.pools["key" if profile.is_key_account else profile.region]
        return _CustomerStory(self, pool, profile).tell()


class _CustomerStory:
    def __init__(self, teller: StoryTeller, pool: PoolWorld, profile: CustomerProfile) -> None:
        self.rng = teller.rng
        self.world = teller.world
        self.clock = teller.world.clock
        self.now = self.clock.now
        self.book = teller.book
        self.pool = pool
        self.profile = profile
        self.ledger = LedgerWriter()
        self.follow_ups = FollowUps(self.rng, self.clock, profile.short_name, profile.revenue_band)
        self.timer = RecycleTimer(pool.recycle, profile.level)
        self.rules = pool.recycle.for_level(profile.level)
        no_deal_days = self.rules.no_deal_days
        self.no_deal = _NO_LIMIT if no_deal_days is None else no_deal_days * DAY
        self.lost_reason = ""

    def tell(self) -> Story:
        created = self._creation_time()
        final = FINAL_STATUS.pick(self.rng)
        current = None if final == "pooled" else self._plan_current(created, final == "frozen")
        created_by: int | None
        if current is not None and current.how == "registered":
            owner = current.owner
            self.ledger.record(
                "created", "owned", owner.user_id, owner.actor, "负责人自行登记", created
            )
            created_by = owner.user_id
        else:
            actor, reason = self._creator()
            self.ledger.record("created", "pooled", None, actor, reason, created)
            created_by = actor.user_id
            if current is None:
                self._past_periods(created, self.now - HOUR, set())
            elif current.leaver is not None:
                self._leaver_period(created, current.leaver)
            else:
                self._past_periods(created, current.start - 12 * HOUR, {current.owner.index})
        if current is None:
            return self._pooled_story(created, created_by)
        return self._owned_story(created, created_by, current)

    # -- planning ---------------------------------------------------------------------------

    def _creation_time(self) -> int:
        span, now = self.world.span, self.now
        age = 3 * HOUR + int((span - 3 * HOUR) * self.rng.random() ** 1.3)
        return self.clock.in_office_hours(self.rng, now - age, now - span, now - 2 * HOUR)

    def _plan_current(self, created: int, is_frozen: bool) -> _Current | None:
        """Who owns the customer now, since when and how; ``None`` leaves it pooled."""
        rng, now = self.rng, self.now
        outcome = "open" if is_frozen else OUTCOME.pick(rng)
        age = now - created
        longest = age - HOUR if outcome == "won" else min(age - HOUR, int(0.9 * self.no_deal))
        shortest = 2 * DAY if is_frozen else 10 * MINUTE
        if longest < shortest:
            return None
        start, how, leaver = self._start_of_current(created, longest, shortest, is_frozen)
        owner = self._pick_owner(start, set(), counts=False, freezing=is_frozen)
        if owner is None:
            return None
        if outcome == "won" and not self._can_win(owner, start):
            outcome = "open"
        counts = outcome != "won" or self.pool.claim.count_won_in_cap
        if counts and not self.book.has_room(owner, self.pool.claim):
            return None
        if how == "claimed" and not self.book.can_claim(owner, start, self.pool.claim):
            how = "assigned"
        self.book.hold(owner, counts_toward_cap=counts, frozen=is_frozen)
        return _Current(owner, start, how, outcome, is_frozen, leaver)

    def _start_of_current(
        self, created: int, longest: int, shortest: int, is_frozen: bool
    ) -> tuple[int, str, Rep | None]:
        """When and how the current owner got the customer: after a colleague left, at
        registration, or from the pool ``shortest`` to ``longest`` ago (recent more likely)."""
        rng, now = self.rng, self.now
        leavers = [
            rep
            for rep in self.pool.departed
            if rep.departed_at is not None
            and created + HOUR < rep.departed_at - 3 * DAY
            and now - longest <= rep.departed_at <= now - shortest - 6 * HOUR
        ]
        if leavers and chance(rng, 0.08):
            leaver = one_of(rng, leavers)
            assert leaver.departed_at is not None
            return leaver.departed_at + between(rng, 0, 6 * HOUR), "transferred", leaver
        registers = self.profile.source in _REGISTERING_SOURCES and chance(rng, 0.25)
        if registers and now - created <= longest and not is_frozen:
            return created, "registered", None
        duration = shortest + int((longest - shortest) * rng.random() ** 1.6)
        start = self.clock.in_office_hours(rng, now - duration, now - longest, now - shortest)
        return start, "claimed" if chance(rng, 0.7) else "assigned", None

    def _win_window(self, owner: Rep, since: int) -> tuple[int, int]:
        """When a deal can be won: after three days, before the no-deal limit and ``now``."""
        latest = min(owner.works_until(self.now) - HOUR, since + int(0.9 * self.no_deal))
        return since + 3 * DAY, latest

    def _can_win(self, owner: Rep, since: int) -> bool:
        earliest, latest = self._win_window(owner, since)
        return earliest <= latest

    def _pick_owner(
        self, moment: int, excluded: set[int], *, counts: bool, freezing: bool = False
    ) -> Rep | None:
        """A random employed rep of the pool's team who is free to take one more customer."""
        reps, limits = self.pool.reps, self.pool.claim
        for _ in range(8):
            rep = reps[int(self.rng.random() * len(reps))]
            if rep.index in excluded or not rep.can_take_customer_at(moment):
                continue
            if counts and not self.book.has_room(rep, limits):
                continue
            if freezing and not self.book.can_freeze(rep, limits):
                continue
            return rep
        return None

    def _creator(self) -> tuple[Actor, str]:
        source, campaign, manager = self.profile.source, self.profile.campaign, self.pool.manager
        if source == "web_form":
            return Actor(None, "system:web_form"), f"官网表单留资（{campaign}）"
        if source == "advertising":
            return Actor(None, "system:ad_leads"), f"广告线索同步（{campaign}）"
        if source == "import":
            return self.world.admin, f"批量导入：{campaign}"
        if source == "exhibition":
            return manager, f"展会名片录入：{campaign}"
        if source == "partner":
            return manager, f"渠道报备：{campaign}"
        return manager, "录入公海"

    # -- earlier owners ----------------------------------------------------------------------

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
        self._acquire(owner, start, "claimed" if chance(rng, 0.75) else "assigned")
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
        if len(times) >= 2 and chance(rng, 0.25):
            opened, lost = times[0] + 30 * MINUTE, times[-1] + 10 * MINUTE
            lost_reason = self.follow_ups.lost_deal(owner.user_id, opened, lost)
            self.lost_reason = lost_reason
        self.follow_ups.record(owner.user_id, times, end)
        if releases:
            reason = (
                f"商机输单（{lost_reason}），退回公海"
                if lost_reason
                else one_of(rng, data.RELEASE_REASONS)
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
            reason = one_of(rng, data.CLAIM_REASONS)
            return self.ledger.record("claimed", "owned", owner.user_id, owner.actor, reason, at)
        reason = one_of(rng, data.ASSIGN_REASONS)
        manager = self.pool.manager
        return self.ledger.record("assigned", "owned", owner.user_id, manager, reason, at)

    def _recycle(self, plan: RecyclePlan, at: int) -> None:
        reason = _RECYCLE_REASONS[plan.rule].format(limit=plan.limit)
        actor = Actor(None, f"system:{plan.rule}")
        policy_ref = f"pool:{self.pool.id}/recycle_policy"
        self.ledger.record("recycled", "pooled", None, actor, reason, at, policy_ref)

    # -- the current owner and the final state ---------------------------------------------

    def _owned_story(self, created: int, created_by: int | None, current: _Current) -> Story:
        owned_since = self._take_over(current, created)
        outcome, open_stage = self._current_follow_ups(current.owner, owned_since, current.outcome)
        frozen_until = self._freeze(current.owner, owned_since) if current.is_frozen else None
        follow_ups = self.follow_ups
        plan = self.timer.plan(
            owned_since,
            last_effective_at=follow_ups.last_effective_at(),
            last_activity_at=follow_ups.last_activity_at(),
            is_won=outcome == "won",
            has_open_deal=outcome == "open",
            status=Status(self.ledger.status),
        )
        contacted = (follow_ups.last_activity_at() or 0) >= owned_since
        if outcome == "won":
            stage = "won"
        elif outcome == "open":
            stage = "negotiation" if open_stage == "negotiation" else "qualified"
        else:
            stage = "contacted" if contacted else "prospect"
        return self._story(
            created,
            created_by,
            stage,
            owned_since=owned_since,
            frozen_until=frozen_until,
            recycle_due_at=plan.due_at,
            warn_at=plan.warn_at,
        )

    def _take_over(self, current: _Current, created: int) -> int:
        owner, manager = current.owner, self.pool.manager
        if current.how == "registered":
            return created
        if current.how == "transferred":
            reason = data.TRANSFER_REASON
            return self.ledger.record(
                "transferred", "owned", owner.user_id, manager, reason, current.start
            )
        return self._acquire(owner, current.start, current.how)

    def _current_follow_ups(self, owner: Rep, since: int, outcome: str) -> tuple[str, str]:
        """Follow-ups and the deal of the current owner; returns the outcome that fitted and
        the open deal's stage."""
        follow_ups = self.follow_ups
        horizon = owner.works_until(self.now)
        earliest, latest = self._win_window(owner, since)
        if outcome == "won" and earliest <= latest:
            won_at = self.clock.in_office_hours(
                self.rng, between(self.rng, earliest, latest), earliest, latest
            )
            times = self._follow_up_times(since, won_at - HOUR)
            opened = (times[0] if times else since) + 30 * MINUTE
            product = follow_ups.won_deal(owner.user_id, opened, won_at)
            follow_ups.record(owner.user_id, times, won_at)
            follow_ups.record_signing(owner.user_id, won_at, product)
            later = follow_ups.maintenance_times(won_at, horizon)
            follow_ups.record(owner.user_id, later, horizon, plans_next=0.6)
            return "won", ""
        times = self._follow_up_times(since, horizon)
        follow_ups.record(owner.user_id, times, horizon, plans_next=0.6)
        if outcome == "open" and times:
            opened = min(times[len(times) // 2] + 30 * MINUTE, self.now)
            return "open", follow_ups.open_deal(owner.user_id, opened)
        return "none", ""

    def _freeze(self, owner: Rep, owned_since: int) -> int:
        """Freeze for 7 days up to the pool's longest freeze, ending after ``now``."""
        rng, clock = self.rng, self.clock
        days = between(rng, 7, self.pool.claim.max_freeze_days or 30)
        low, high = max(owned_since + DAY, self.now - (days - 1) * DAY), self.now - HOUR
        at = clock.in_office_hours(rng, between(rng, low, high), low, high)
        actor = owner.actor if chance(rng, 0.7) else self.pool.manager
        reason = one_of(rng, data.FREEZE_REASONS)
        at = self.ledger.record("frozen", "frozen", owner.user_id, actor, reason, at)
        return clock.start_of_local_day(clock.local_day(at) + days)

    def _pooled_story(self, created: int, created_by: int | None) -> Story:
        has_follow_ups = bool(self.follow_ups.activities)
        stage = "lost" if self.lost_reason else ("contacted" if has_follow_ups else "prospect")
        return self._story(created, created_by, stage)

    def _story(
        self,
        created: int,
        created_by: int | None,
        stage: str,
        *,
        owned_since: int | None = None,
        frozen_until: int | None = None,
        recycle_due_at: int | None = None,
        warn_at: int | None = None,
    ) -> Story:
        ledger, follow_ups = self.ledger, self.follow_ups
        last_activity = follow_ups.last_activity_at()
        return Story(
            pool_id=self.pool.id,
            created_at=created,
            created_by_id=created_by,
            status=ledger.status,
            owner_id=ledger.owner_id,
            owned_since=owned_since,
            frozen_until=frozen_until,
            previous_owner_id=ledger.previous_owner_id,
            stage=stage,
            last_activity_at=last_activity,
            last_effective_at=follow_ups.last_effective_at(),
            recycle_due_at=recycle_due_at,
            warn_at=warn_at,
            updated_at=max(ledger.events[-1].at, last_activity or 0),
            events=ledger.events,
            activities=follow_ups.activities,
            deals=follow_ups.deals,
        )
