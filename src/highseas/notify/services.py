"""Sending and reading notifications. Callers inside a business transaction queue them with
``notify_after_commit`` so that nothing is announced for a change that rolled back; e-mail and
webhook deliveries are written to the outbox with the row (``notify.outbox``) and sent by a
worker once committed, never on the caller's path."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.delivery import has_channels
from highseas.notify.models import Notification
from highseas.notify.outbox import enqueue


def notify(
    recipient_id: int,
    kind: str,
    title: str,
    body: str = "",
    customer_id: int | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Create one in-app notification and queue it on the optional channels in the same
    transaction; with ``dedupe_key``, at most once ever (a repeat returns None and queues
    nothing)."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient_id=recipient_id,
                kind=kind,
                title=title,
                body=body,
                customer_id=customer_id,
                dedupe_key=dedupe_key,
            )
            if has_channels():
                enqueue(notification)
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None
    return notification


def notify_after_commit(
    recipient_id: int, kind: str, title: str, body: str = "", customer_id: int | None = None
) -> None:
    transaction.on_commit(lambda: notify(recipient_id, kind, title, body, customer_id))


def mark_read(user: User, notification_id: int, now: datetime) -> Notification:
    """Mark one of ``user``'s notifications read; reading it again keeps the first time."""
    mine = Notification.objects.filter(pk=notification_id, recipient=user)
    mine.filter(read_at__isnull=True).update(read_at=now)
    notification = mine.first()
    if notification is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such notification."))
    return notification


def mark_all_read(user: User, now: datetime) -> int:
    """Mark every unread notification of ``user`` read; returns how many changed."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=now)
