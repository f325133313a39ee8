"""Per-rep counters that keep the demo inside every claim policy.

Stories consult the book before giving a customer to a rep: the final holdings stay under
the holding cap and the frozen limit, and no rep claims more per day or week than the quota.
"""

from __future__ import annotations

from highseas.demo.clock import DemoClock
from highseas.demo.world import Rep
from highseas.engine.limits import ClaimLimits

_REP_STRIDE = 1_000_000  # days (or weeks) since 1970 stay far below this


class OwnershipBook:
    def __init__(self, clock: DemoClock, rep_count: int) -> None:
        self.clock = clock
        self.holdings = [0] * rep_count
        self.frozen = [0] * rep_count
        self._claims_per_day: dict[int, int] = {}
        self._claims_per_week: dict[int, int] = {}

    def has_room(self, rep: Rep, limits: ClaimLimits) -> bool:
        return limits.holding_cap is None or self.holdings[rep.index] < limits.holding_cap

    def can_freeze(self, rep: Rep, limits: ClaimLimits) -> bool:
        return limits.max_frozen is None or self.frozen[rep.index] < limits.max_frozen

    def hold(self, rep: Rep, *, counts_toward_cap: bool, frozen: bool) -> None:
        if counts_toward_cap:
            self.holdings[rep.index] += 1
        if frozen:
            self.frozen[rep.index] += 1

    def can_claim(self, rep: Rep, moment: int, limits: ClaimLimits) -> bool:
        day_key, week_key = self._keys(rep, moment)
        return (
            limits.daily_quota is None or self._claims_per_day.get(day_key, 0) < limits.daily_quota
        ) and (
            limits.weekly_quota is None
            or self._claims_per_week.get(week_key, 0) < limits.weekly_quota
        )

    def record_claim(self, rep: Rep, moment: int) -> None:
        day_key, week_key = self._keys(rep, moment)
        self._claims_per_day[day_key] = self._claims_per_day.get(day_key, 0) + 1
        self._claims_per_week[week_key] = self._claims_per_week.get(week_key, 0) + 1

    def _keys(self, rep: Rep, moment: int) -> tuple[int, int]:
        """Local calendar day and ISO week (Monday first; 1970-01-01 was a Thursday)."""
        day = self.clock.local_day(moment)
        return rep.index * _REP_STRIDE + day, rep.index * _REP_STRIDE + (day + 3) // 7
