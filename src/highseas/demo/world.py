"""The demo organization as plain data: what stories need to know about pools and people.

Nothing here touches the database; ``org`` builds a ``DemoWorld`` from the rows it wrote.
Pool policies use the engine's own forms (``ClaimLimits``, ``RecycleRules``), so the demo
obeys exactly the rules the services enforce.
"""

from __future__ import annotations

from dataclasses import dataclass

from highseas.demo.clock import DAY, DemoClock
from highseas.engine.limits import ClaimLimits
from highseas.engine.recycle import RecycleRules


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a user (``user_id`` and username) or a rule (``system:<rule>``)."""

    user_id: int | None
    label: str


@dataclass(slots=True)
class Rep:
    """A sales rep as stories see them; ``index`` is dense, for per-rep counters."""

    index: int
    actor: Actor
    departed_at: int | None = None
    leave_from: int | None = None
    leave_until: int | None = None

    @property
    def user_id(self) -> int:
        assert self.actor.user_id is not None
        return self.actor.user_id

    def can_take_customer_at(self, moment: int) -> bool:
        """Employed, and not on leave within three days of ``moment`` (nobody claims just
        before a leave: the first follow-up would fall inside it)."""
        if self.departed_at is not None and moment >= self.departed_at:
            return False
        if self.leave_from is None or self.leave_until is None:
            return True
        return not self.leave_from - 3 * DAY <= moment <= self.leave_until

    def works_until(self, now: int) -> int:
        """The last moment before ``now`` this rep can follow a customer up: the start of a
        leave that is under way, else ``now``."""
        if self.leave_from is None or self.leave_until is None:
            return now
        return self.leave_from if self.leave_from <= now <= self.leave_until else now


@dataclass
class PoolWorld:
    id: int
    key: str
    name: str
    claim: ClaimLimits
    recycle: RecycleRules
    manager: Actor
    reps: list[Rep]  # employed reps of the pool's member team (and its groups)
    departed: list[Rep]  # reps who left; they appear only in histories


@dataclass
class DemoWorld:
    clock: DemoClock
    months: int
    admin: Actor
    pools: dict[str, PoolWorld]
    rep_count: int

    @property
    def span(self) -> int:
        """How far back customer histories reach, in seconds."""
        return round(self.months * 30.4 * DAY)
