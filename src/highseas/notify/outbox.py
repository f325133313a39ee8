"""The outbox of e-mail and webhook deliveries: sending leaves the request and sweep paths.

1. ``enqueue`` writes one ``Delivery`` per enabled channel in the transaction that writes the
   notification: one that rolls back sends nothing, one that commits is never lost.
2. ``deliver_due(now)``, run by ``highseas worker`` (and by the embedded server's scheduler),
   takes up to ``batch_size`` due deliveries in one short transaction — read ``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, so concurrent workers take disjoint ones — counts the attempt and
   pushes ``next_attempt_at`` one ``LEASE`` ahead; commits; sends each outside any
   transaction; and records each outcome with a compare-and-set on ``(id, attempts)``: sent;
   or due again after a back-off (1, 2, 4 … minutes, at most 6 hours); or, after
   ``MAX_ATTEMPTS``, failed — kept with its last error, and logged.
3. Never sent twice: a taken delivery is due for nobody else until its lease ends, far later
   than a batch of sends can take (each send times out). Only a worker killed between sending
   and recording leaves one to be sent again when the lease ends; the message carries its
   idempotency key (``delivery.idempotency_key``) so that the receiver can drop the repeat.

Our own table rather than a queue library: procrastinate is PostgreSQL-only and django-q2 runs
its own cluster and broker, while this must also work on SQLite for the embedded server, in
the transaction of the notification, with the claim-by-lease pattern the sweep already uses.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from highseas.accounts.models import User
from highseas.notify.delivery import channels_for, send
from highseas.notify.models import Delivery, Notification
from highseas.notify.preferences import channel_allowed, is_held, preferences_for

logger = logging.getLogger("highseas.notify")

BATCH_SIZE = 20
MAX_BATCHES = 50  # per call, so that a backlog does not hold up the other periodic jobs
LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
ERROR_LENGTH = 2_000

PENDING, SENT, FAILED = (Delivery.State.PENDING, Delivery.State.SENT, Delivery.State.FAILED)


def enqueue(notification: Notification) -> int:
    """Queue the notification on every channel the deployment enables (e-mail to the
    recipient's address, when they have one); call it in the transaction that wrote it."""
    return enqueue_many([notification])


def enqueue_many(notifications: Sequence[Notification], not_before: datetime | None = None) -> int:
    """``enqueue`` for many notifications: the recipients' addresses and preferences in one
    query each, the deliveries in one statement. A notification its recipient takes in the
    daily digest, or a channel they turned off, queues nothing (``notify.preferences``).
    ``not_before``: none is sent before then (by default, at once)."""
    recipients = {n.recipient_id for n in notifications}
    chosen = preferences_for(recipients)
    emails: dict[int, str] = {}
    if settings.HIGHSEAS_EMAIL_NOTIFICATIONS:
        emails = dict(User.objects.filter(pk__in=recipients).values_list("pk", "email"))
    queued = [
        Delivery(
            notification=notification,
            channel=channel,
            target=target,
            next_attempt_at=not_before or notification.created_at,
        )
        for notification in notifications
        if not is_held(chosen[notification.recipient_id], notification.kind)
        for channel, target in channels_for(emails.get(notification.recipient_id) or "")
        if channel_allowed(chosen[notification.recipient_id], channel)
    ]
    Delivery.objects.bulk_create(queued)
    return len(queued)


def retry_delay(attempts: int) -> timedelta:
    """The back-off after the ``attempts``-th failed attempt."""
    delay: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(delay, LONGEST_RETRY)


def take_due(now: datetime, batch_size: int = BATCH_SIZE) -> list[Delivery]:
    """Take up to ``batch_size`` due deliveries: count the attempt, lease them until
    ``now + LEASE``; they are this caller's to send and record. With nothing due it opens
    no write transaction (on SQLite that would take the database's write lock)."""
    due = Delivery.objects.filter(state=PENDING, next_attempt_at__lte=now)
    if not due.exists():
        return []
    with transaction.atomic():
        return _take(due, now, batch_size)


def _take(due: QuerySet[Delivery], now: datetime, batch_size: int) -> list[Delivery]:
    locked = due.order_by("next_attempt_at", "pk").select_for_update(skip_locked=True)
    ids = list(locked.values_list("pk", flat=True)[:batch_size])
    if not ids:
        return []
    Delivery.objects.filter(pk__in=ids, state=PENDING).update(
        attempts=F("attempts") + 1, next_attempt_at=now + LEASE
    )
    return list(
        Delivery.objects.filter(pk__in=ids)
        .select_related("notification")
        .order_by("next_attempt_at", "pk")
    )


def record(delivery: Delivery, error: str | None, now: datetime) -> str:
    """Record what sending a taken delivery did: ``delivered``, ``retrying`` or ``failed``
    (``lost_lease`` when its lease ran out and it is no longer this caller's)."""
    mine = Delivery.objects.filter(pk=delivery.pk, state=PENDING, attempts=delivery.attempts)
    if error is None:
        outcome, changed = "delivered", mine.update(state=SENT, sent_at=now, last_error="")
    elif delivery.attempts >= MAX_ATTEMPTS:
        outcome = "failed"
        changed = mine.update(state=FAILED, last_error=error[:ERROR_LENGTH])
        logger.error(
            "giving up %s delivery %s of notification %s after %s attempts: %s",
            *(delivery.channel, delivery.pk, delivery.notification_id, delivery.attempts, error),
        )
    else:
        outcome = "retrying"
        changed = mine.update(
            next_attempt_at=now + retry_delay(delivery.attempts), last_error=error[:ERROR_LENGTH]
        )
    if not changed:
        logger.warning("delivery %s outlived its lease; not recorded", delivery.pk)
        return "lost_lease"
    return outcome


def deliver_due(
    now: datetime | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    max_batches: int = MAX_BATCHES,
) -> dict[str, int]:
    """Send the deliveries due at ``now`` (the clock when ``None``), batch by batch; counts
    by outcome."""
    counts: Counter[str] = Counter(delivered=0, retrying=0, failed=0)
    for _batch in range(max_batches):
        taken = take_due(now or timezone.now(), batch_size)
        if not taken:
            break
        for delivery in taken:
            counts[record(delivery, send(delivery), now or timezone.now())] += 1
    return dict(counts)
