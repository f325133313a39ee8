"""A viewer's inbox, for the API and the web alike: their own notifications only, newest
first; ``unread`` True keeps the unread ones, False the read ones, None all."""

from __future__ import annotations

from django.db.models import QuerySet

from highseas.accounts.visibility import Viewer
from highseas.notify.models import Notification


def notifications_of(viewer: Viewer, *, unread: bool | None = None) -> QuerySet[Notification]:
    mine = Notification.objects.filter(recipient=viewer.user).select_related("customer")
    if unread is not None:
        mine = mine.filter(read_at__isnull=unread)
    return mine.order_by("-created_at", "-id")
