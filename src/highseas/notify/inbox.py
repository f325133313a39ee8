"""A viewer's inbox, for the API and the web alike: their own notifications only, newest
first; ``unread`` True keeps the unread ones, False the read ones, None all; ``by_day`` groups
a page of them under the day they arrived, and within a day ``GROUP_AT`` or more of one
category (``notify.preferences.CATEGORIES``) into one line that opens ("12 条回收提醒"), placed
where the newest of them is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from highseas.accounts.visibility import Viewer
from highseas.notify.models import Notification
from highseas.notify.preferences import CATEGORY_COUNTS, category_of

GROUP_AT = 3


def notifications_of(viewer: Viewer, *, unread: bool | None = None) -> QuerySet[Notification]:
    mine = Notification.objects.filter(recipient=viewer.user).select_related("customer")
    if unread is not None:
        mine = mine.filter(read_at__isnull=unread)
    return mine.order_by("-created_at", "-id")


@dataclass
class InboxGroup:
    """A day's notifications of one category, shown as one line that opens."""

    category: str
    items: list[Notification] = field(default_factory=list)

    @property
    def label(self) -> str:
        return str(CATEGORY_COUNTS[self.category] % {"n": len(self.items)})

    @property
    def unread(self) -> int:
        return sum(1 for item in self.items if item.read_at is None)


@dataclass
class InboxDay:
    """One calendar day of the inbox (the organisation's time zone), newest first."""

    day: date
    is_today: bool
    is_yesterday: bool
    items: list[Notification] = field(default_factory=list)

    @property
    def entries(self) -> list[Notification | InboxGroup]:
        """The day's lines: a notification, or a group of ``GROUP_AT`` or more of a category
        where the newest of them is."""
        by_category: dict[str, list[Notification]] = {}
        for item in self.items:
            by_category.setdefault(category_of(item.kind), []).append(item)
        entries: list[Notification | InboxGroup] = []
        placed: set[str] = set()
        for item in self.items:
            category = category_of(item.kind)
            if len(by_category[category]) < GROUP_AT:
                entries.append(item)
            elif category not in placed:
                placed.add(category)
                entries.append(InboxGroup(category, by_category[category]))
        return entries


def by_day(notifications: Iterable[Notification], today: date) -> list[InboxDay]:
    """The notifications (already newest first) grouped by the day they arrived."""
    days: list[InboxDay] = []
    for notification in notifications:
        day = timezone.localdate(notification.created_at)
        if not days or days[-1].day != day:
            days.append(InboxDay(day, day == today, day == today - timedelta(days=1)))
        days[-1].items.append(notification)
    return days
