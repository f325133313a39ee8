"""A viewer's inbox, for the API and the web alike: their own notifications only, newest
first; ``unread`` True keeps the unread ones, False the read ones, None all; ``by_day`` groups
a page of them under the day they arrived."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from highseas.accounts.visibility import Viewer
from highseas.notify.models import Notification


def notifications_of(viewer: Viewer, *, unread: bool | None = None) -> QuerySet[Notification]:
    mine = Notification.objects.filter(recipient=viewer.user).select_related("customer")
    if unread is not None:
        mine = mine.filter(read_at__isnull=unread)
    return mine.order_by("-created_at", "-id")


@dataclass
class InboxDay:
    """One calendar day of the inbox (the organisation's time zone), newest first."""

    day: date
    is_today: bool
    is_yesterday: bool
    items: list[Notification] = field(default_factory=list)


def by_day(notifications: Iterable[Notification], today: date) -> list[InboxDay]:
    """The notifications (already newest first) grouped by the day they arrived."""
    days: list[InboxDay] = []
    for notification in notifications:
        day = timezone.localdate(notification.created_at)
        if not days or days[-1].day != day:
            days.append(InboxDay(day, day == today, day == today - timedelta(days=1)))
        days[-1].items.append(notification)
    return days
