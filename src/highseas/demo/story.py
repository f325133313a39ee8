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

from highseas.demo import data, habits
from highseas.demo.book import OwnershipBook
from highseas.demo.clock import DAY, HOUR, MINUTE
from highseas.demo.followups import ActivityRecord, DealRecord
from highseas.demo.ledger import EventRecord
from highseas.demo.periods import OwnershipPeriods
from highseas.demo.profiles import CustomerProfile
from highseas.demo.sampling import Weighted, between, chance, one_of
from highseas.demo.world import Actor, DemoWorld, PoolWorld, Rep
from highseas.engine.ownership import Status
from highseas.pools import reasons
from highseas.pools.reasons import Reason

FINAL_STATUS = Weighted.of((("pooled", 38), ("owned", 58), ("frozen", 4)))
OUTCOME = Weighted.of((("won", 18), ("open", 30), ("none", 52)))
_REGISTERING_SOURCES = frozenset({"referral", "cold_call", "other", "exhibition", "partner"})


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


class _CustomerStory(OwnershipPeriods):
    """Plans the customer's story, has ``OwnershipPeriods`` write it, and sums it up."""

    def __init__(self, teller: StoryTeller, pool: PoolWorld, profile: CustomerProfile) -> None:
        super().__init__(teller.rng, teller.world.clock, teller.book, pool, profile)
        self.world = teller.world

    def tell(self) -> Story:
        created = self._creation_time()
        final = FINAL_STATUS.pick(self.rng)
        current = None if final == "pooled" else self._plan_current(created, final == "frozen")
        created_by = self._create(created, current)
        if current is None:
            self._past_periods(created, self.now - HOUR, set())
            return self._pooled_story(created, created_by)
        if current.leaver is not None:
            self._leaver_period(created, current.leaver)
        elif current.how != "registered":
            self._past_periods(created, current.start - 12 * HOUR, {current.owner.index})
        return self._owned_story(created, created_by, current)

    def _create(self, created: int, current: _Current | None) -> int | None:
        """The ``created`` event: registered by its owner, or put in the pool by its source;
        returns who created the customer."""
        if current is not None and current.how == "registered":
            owner = current.owner
            reason: Reason | str = Reason(reasons.REGISTERED)
            self.ledger.record("created", "owned", owner.user_id, owner.actor, reason, created)
            return owner.user_id
        actor, reason = self._creator()
        self.ledger.record("created", "pooled", None, actor, reason, created)
        return actor.user_id

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
        counts = outcome != "won" or self.pool.claim.count_won_in_cap
        owner = self._pick_owner(
            start, set(), counts=counts, freezing=is_frozen, winning=outcome == "won"
        )
        if owner is None:
            return None
        if outcome == "won" and not self._can_win(owner, start):
            outcome = "open"
        if outcome == "none" and self._parks(owner, is_frozen):
            outcome = "open"  # a hoarder opens a deal to keep the customer (habits)
        counts = outcome != "won" or self.pool.claim.count_won_in_cap
        if counts and not self.book.has_room(owner, self.pool.claim):
            return None
        if how in ("claimed", "assigned"):
            how = "claimed" if habits.claims(self.rng, self.pool, owner, 0.7) else "assigned"
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
        return start, "claimed", None  # or assigned: who takes it decides (habits.claims)

    def _win_window(self, owner: Rep, since: int) -> tuple[int, int]:
        """When a deal can be won: after three days, before the no-deal limit and ``now``."""
        latest = min(owner.works_until(self.now) - HOUR, since + int(0.9 * self.no_deal))
        return since + 3 * DAY, latest

    def _can_win(self, owner: Rep, since: int) -> bool:
        earliest, latest = self._win_window(owner, since)
        return earliest <= latest

    def _creator(self) -> tuple[Actor, Reason | str]:
        source, campaign, manager = self.profile.source, self.profile.campaign, self.pool.manager
        if source == "web_form":
            lead = Reason(reasons.WEB_FORM_LEAD, {"campaign": campaign})
            return Actor(None, "system:web_form"), lead
        if source == "advertising":
            return Actor(None, "system:ad_leads"), Reason(reasons.AD_LEAD, {"campaign": campaign})
        if source == "import":
            return self.world.admin, Reason(reasons.IMPORTED, {"file": campaign})
        if source == "exhibition":
            return manager, f"展会名片录入：{campaign}"
        if source == "partner":
            return manager, f"渠道报备：{campaign}"
        return manager, "录入公海"

    # -- the current owner and the final state ---------------------------------------------

    def _owned_story(self, created: int, created_by: int | None, current: _Current) -> Story:
        owned_since = self._take_over(current, created)
        outcome, open_stage = self._current_follow_ups(
            current.owner, owned_since, current.outcome, current.is_frozen
        )
        frozen_until = self._freeze(current.owner, owned_since) if current.is_frozen else None
        follow_ups = self.follow_ups
        plan = self.timer.plan(
            owned_since,
            last_effective_at=follow_ups.last_effective_at,
            last_activity_at=follow_ups.last_activity_at,
            is_won=outcome == "won",
            has_open_deal=outcome == "open",
            status=Status(self.ledger.status),
            leave=_leave_of(current.owner),
        )
        contacted = (follow_ups.last_activity_at or 0) >= owned_since
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

    def _current_follow_ups(
        self, owner: Rep, since: int, outcome: str, is_frozen: bool = False
    ) -> tuple[str, str]:
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
            hoards = chance(self.rng, habits.hoarding(owner))
            later = [] if hoards else follow_ups.maintenance_times(won_at, horizon)
            follow_ups.record(owner.user_id, later, horizon, plans_next=0.6)
            return "won", ""
        if outcome == "open" and self._parks(owner, is_frozen):
            return self._parked(owner, since, horizon)
        times = self._follow_up_times(since, horizon)
        follow_ups.record(owner.user_id, times, horizon, plans_next=0.6)
        if outcome == "open" and times:
            opened = min(times[len(times) // 2] + 30 * MINUTE, self.now)
            return "open", follow_ups.open_deal(owner.user_id, opened)
        # a deal already lost with this owner, who keeps trying: likelier where they are weak
        if len(times) >= 2 and chance(self.rng, 0.6 * (1 - self._chance(owner))):
            opened, lost = times[0] + 30 * MINUTE, times[-1] + 10 * MINUTE
            if lost < self.now:
                follow_ups.lost_deal(owner.user_id, opened, lost)
        return "none", ""

    def _parks(self, owner: Rep, is_frozen: bool) -> bool:
        """Whether a hoarding owner keeps this customer behind an open deal: only where the
        pool exempts customers with an open deal from recycling (``habits``)."""
        exempt = self.pool.recycle.exempt_open_deal and not is_frozen
        return exempt and chance(self.rng, habits.hoarding(owner))

    def _parked(self, owner: Rep, since: int, horizon: int) -> tuple[str, str]:
        """The hoarder's first contact and an open deal right after it; nothing since."""
        times = self._follow_up_times(since, horizon, 1)
        self.follow_ups.record(owner.user_id, times, horizon)
        opened = min((times[0] if times else since) + 30 * MINUTE, self.now)
        return "open", self.follow_ups.open_deal(owner.user_id, opened)

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
        last_activity = follow_ups.last_activity_at
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
            last_effective_at=follow_ups.last_effective_at,
            recycle_due_at=recycle_due_at,
            warn_at=warn_at,
            updated_at=max(ledger.events[-1].at, last_activity or 0),
            events=ledger.events,
            activities=follow_ups.activities,
            deals=follow_ups.deals,
        )


def _leave_of(rep: Rep) -> tuple[int, int] | None:
    """The rep's recorded leave (first and last second), which pauses their clocks."""
    if rep.leave_from is None or rep.leave_until is None:
        return None
    return rep.leave_from, rep.leave_until
