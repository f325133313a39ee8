"""Demo time: integer seconds since the epoch, anchored to an explicit ``now``.

Stories compute in plain integers (fast, exact, easy to compare) and convert to datetimes
only when rows are written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MINUTE = 60
HOUR = 3_600
DAY = 86_400
OFFICE_OPENS = 9 * HOUR
OFFICE_CLOSES = 18 * HOUR + 30 * MINUTE
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoClock:
    """``now`` in epoch seconds and the organization's UTC offset at that moment.

    The offset is taken once, at ``now``: office hours are approximate across a daylight
    saving change, which Chinese time zones do not have.
    """

    now: int
    utc_offset: int

    @classmethod
    def at(cls, now: datetime) -> DemoClock:
        offset = now.utcoffset()
        return cls(int(now.timestamp()), int(offset.total_seconds()) if offset else 0)

    def local_day(self, moment: int) -> int:
        """Days since the epoch in local time."""
        return (moment + self.utc_offset) // DAY

    def start_of_local_day(self, day: int) -> int:
        return day * DAY - self.utc_offset

    def local_date(self, moment: int) -> date:
        return date(1970, 1, 1) + timedelta(days=self.local_day(moment))

    def in_office_hours(self, rng: random.Random, moment: int, low: int, high: int) -> int:
        """A random moment of working hours (Monday to Friday, 09:00–18:30) within
        ``[low, high]``, on the working day nearest to ``moment`` whose hours meet that
        window: its own day, then one day either side, then two. When none does (a window
        of a few night hours), ``moment`` itself, kept within the window."""
        day = self.local_day(moment)
        for candidate in (day, day - 1, day + 1, day - 2, day + 2):
            if (candidate + 3) % 7 >= 5:  # 1970-01-01, day 0, was a Thursday
                continue
            opens = self.start_of_local_day(candidate) + OFFICE_OPENS
            start = max(low, opens)
            end = min(high, opens + OFFICE_CLOSES - OFFICE_OPENS)
            if start <= end:
                return start + int(rng.random() * (end - start + 1))
        return max(low, min(moment, high))


def to_datetime(moment: int) -> datetime:
    return EPOCH + timedelta(seconds=moment)
