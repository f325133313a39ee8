"""Sending notifications. Callers queue them with ``transaction.on_commit`` so that nothing is
announced for a change that rolled back."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from highseas.notify.models import Notification


def notify(
    recipient_id: int,
    kind: str,
    title: str,
    body: str = "",
    customer_id: int | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Create one in-app notification; with ``dedupe_key``, at most once ever."""
    try:
        with transaction.atomic():
            return Notification.objects.create(
                recipient_id=recipient_id,
                kind=kind,
                title=title,
                body=body,
                customer_id=customer_id,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None


def notify_after_commit(
    recipient_id: int, kind: str, title: str, body: str = "", customer_id: int | None = None
) -> None:
    transaction.on_commit(lambda: notify(recipient_id, kind, title, body, customer_id))
