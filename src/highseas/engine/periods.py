"""Quota periods on the organization's calendar: a day starts at local midnight, a week on
Monday at local midnight."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


def day_start(now: datetime, zone: tzinfo) -> datetime:
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def week_start(now: datetime, zone: tzinfo) -> datetime:
    start = day_start(now, zone)
    return start - timedelta(days=start.weekday())
