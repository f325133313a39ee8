"""The engine's recycle schedule (``highseas.engine.recycle``) in the demo's epoch seconds.

Stories ask it when an ownership period would be recycled, and set each owned customer's
``recycle_due_at`` / ``warn_at`` from it, so the demo agrees with the services and the sweep.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from highseas.demo.clock import to_datetime
from highseas.engine.ownership import Status
from highseas.engine.recycle import CustomerClock, RecycleRules, schedule


class RecyclePlan(NamedTuple):
    due_at: int | None
    warn_at: int | None
    rule: str
    limit: int | None


class RecycleTimer:
    def __init__(self, rules: RecycleRules, level: str) -> None:
        self.rules = rules
        self.level = level

    def plan(
        self,
        owned_since: int,
        *,
        last_effective_at: int | None,
        last_activity_at: int | None,
        is_won: bool = False,
        has_open_deal: bool = False,
        status: Status = Status.OWNED,
        leave: tuple[int, int] | None = None,
    ) -> RecyclePlan:
        """``leave``: the owner's recorded leave, ``[first second, last second]``, which
        pauses the clocks where the pool says so (``CustomerClock.pauses``)."""
        clock = CustomerClock(
            status=status,
            level=self.level,
            is_won=is_won,
            has_open_deal=has_open_deal,
            owned_since=to_datetime(owned_since),
            last_effective_activity_at=_moment(last_effective_at),
            last_activity_at=_moment(last_activity_at),
            pauses=((to_datetime(leave[0]), to_datetime(leave[1] + 1)),) if leave else (),
        )
        plan = schedule(self.rules, clock)
        return RecyclePlan(_seconds(plan.due_at), _seconds(plan.warn_at), plan.rule, plan.limit)


def _moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else to_datetime(seconds)


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())
