"""The night hour: work done once a day or less often runs at night, not at the hour the
server happened to start it (``HIGHSEAS_NIGHTLY_HOUR``, 03:00 in the install's time zone by
default).

Three slow-lane jobs run daily or less often: the re-evaluation of every customer's level
(``insights.value``), the performance-linked limit factors (``insights.limits``) and the win
model's retraining (``smart.services``). Timed from their last run, each fell at the hour of
its first run, every day after: an install first started at 9:00 re-evaluated every customer
during the next mornings' 9:00 rush (at a million customers, a third of a two-core machine's CPU
while the reps claimed), and a pool's limits changed in the middle of it.

1. A job run every ``every`` of a day or more is due at the night hour once ``every`` (rounded
   up to whole days) less a day has passed since its last run: daily, the first night after
   its last run, whatever time that was; every 48 (or 36) hours, every other night.
2. Under a day, it is due ``every`` after its last run: an hourly job keeps its rhythm.
3. A job never run is due at once (a plan just switched on, the first model, the first
   re-evaluation of a new install). Admins re-evaluate levels and retrain the model by hand at
   any time.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

DAY = timedelta(days=1)


def last_night(now: datetime) -> datetime:
    """The latest night hour at or before ``now``, in the install's time zone."""
    local = timezone.localtime(now)
    night = local.replace(hour=settings.HIGHSEAS_NIGHTLY_HOUR, minute=0, second=0, microsecond=0)
    if night > local:
        night -= DAY  # the same wall-clock hour a day earlier
    return night


def ran_before(every: timedelta, now: datetime) -> datetime:
    """A job run every ``every`` (a day or more) whose last run was earlier than this is due at
    ``now`` (rule 1); a query's bound."""
    return last_night(now) - (math.ceil(every / DAY) - 1) * DAY


def is_due(last: datetime | None, every: timedelta, now: datetime) -> bool:
    """Whether a job run every ``every`` and last run at ``last`` is due at ``now``."""
    if last is None:
        return True
    if every < DAY:
        return now - last >= every
    return last < ran_before(every, now)
