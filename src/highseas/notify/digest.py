"""The daily digest: one grouped message a day for the notifications a user takes in the
digest (``notify.preferences``), run by the periodic jobs (``pools.scheduler``).

``send_due_digests(now)`` is safe to run every minute, on any number of workers at once:

1. Every active user has a ``NotificationPreference`` row (the job writes the missing ones
   with the defaults); its ``next_digest_at`` is the next digest's moment (UTC), the user's
   digest time in their time zone. The job reads only the rows due at ``now`` (an index).
2. A worker takes a user's digest with a compare-and-set on ``next_digest_at``, which it moves
   to the next local day's digest time in the same transaction as the digest it writes: a
   second worker's write finds the value changed and sends nothing. The digest's
   ``dedupe_key`` is ``digest:<user>:<local day>``, unique in the database, so a user gets at
   most one digest per local day whatever happens.
3. The digest gathers the user's notifications of their digest categories created after the
   last digest (or in the day before the first one) up to ``now``, grouped by category in the
   order of ``CATEGORIES``, each with its count and first ``TOP_ITEMS`` items (customer names,
   or titles): "3 位客户 3 天内将被回收：甲、乙、丙". Recycle warnings count customers, each
   once. With nothing gathered, the day's turn is taken and nothing is written.
4. The digest is one inbox notification (kind ``digest``) whose lines are stored as counted
   templates and facts, so the inbox shows it in the reader's language; its e-mail (and
   webhook) go through the outbox in the user's chosen language.
5. A notification created in a digest category, whose recipient then switches the category
   to "at once" before the digest, is neither e-mailed nor digested: the digest reads the
   categories as they are when it runs.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from highseas.accounts.models import User
from highseas.notify.delivery import has_channels
from highseas.notify.models import Notification, NotificationPreference
from highseas.notify.outbox import enqueue
from highseas.notify.preferences import (
    CATEGORIES,
    DIGEST_KIND,
    Preferences,
    category_of,
    digest_day,
    held_kinds_filter,
    next_digest_at,
    of_row,
)
from highseas.notify.texts import MORE, render, render_lines

logger = logging.getLogger("highseas.notify")

BATCH_SIZE = 200
MAX_BATCHES = 25
TOP_ITEMS = 5
FIRST_WINDOW = timedelta(days=1)
DUE_FORMAT = "%Y-%m-%d %H:%M"  # how a recycle warning's body states its due time

DIGEST_TITLE = gettext_noop("Daily digest for %(day)s")


def send_due_digests(now: datetime) -> dict[str, int]:
    """Send every digest due at ``now`` (module rules 1–4); counts ``sent``, ``empty`` (the
    turn was taken with nothing to say) and ``taken`` (another worker had it)."""
    counts: Counter[str] = Counter(sent=0, empty=0, taken=0)
    _add_missing_rows(now)
    due = NotificationPreference.objects.filter(
        next_digest_at__lte=now, user__is_active=True
    ).order_by("next_digest_at", "pk")
    last: tuple[datetime, int] | None = None
    for _batch in range(MAX_BATCHES):
        page = (
            due
            if last is None
            else due.filter(
                Q(next_digest_at__gt=last[0]) | Q(next_digest_at=last[0], pk__gt=last[1])
            )
        )
        batch: list[tuple[int, datetime]] = list(
            page.values_list("pk", "next_digest_at")[:BATCH_SIZE]  # type: ignore[arg-type]
        )
        if not batch:
            break
        for user_id, scheduled in batch:
            counts[digest_one(user_id, scheduled, now)] += 1
        last = (batch[-1][1], batch[-1][0])
    if counts["sent"] or counts["taken"]:
        logger.info("digests at %s: %s", now.isoformat(), dict(counts))
    return dict(counts)


def _add_missing_rows(now: datetime) -> None:
    missing = User.objects.filter(is_active=True, notification_preference__isnull=True)
    if not missing.exists():  # no write transaction when there is nothing to add
        return
    zone = str(settings.TIME_ZONE)
    rows = []
    for user_id in missing.values_list("pk", flat=True):
        row = NotificationPreference(user_id=user_id)
        row.next_digest_at = next_digest_at(now, row.digest_time, zone)
        rows.append(row)
    NotificationPreference.objects.bulk_create(rows, ignore_conflicts=True)


def digest_one(user_id: int, scheduled: datetime, now: datetime) -> str:
    """Take and send one user's digest that was due at ``scheduled`` (module rule 2)."""
    with transaction.atomic():
        row = NotificationPreference.objects.filter(pk=user_id).first()
        if row is None or row.next_digest_at != scheduled:
            return "taken"
        prefs = of_row(row)
        day = digest_day(scheduled, prefs.zone)
        following = next_digest_at(now, row.digest_time, prefs.zone, skip_day=day)
        since = row.last_digest_at or (scheduled - FIRST_WINDOW)
        moved = NotificationPreference.objects.filter(pk=user_id, next_digest_at=scheduled).update(
            last_digest_at=now, next_digest_at=following
        )
        if not moved:
            return "taken"
        gathered = list(gather(user_id, prefs, since, now))
        if not gathered:
            return "empty"
        digest = build(user_id, prefs, gathered, day.isoformat(), now)
        try:
            with transaction.atomic():
                digest.save(force_insert=True)
        except IntegrityError:
            return "taken"  # this local day's digest exists (module rule 2)
        if has_channels():
            enqueue(digest)
    return "sent"


def gather(
    user_id: int, prefs: Preferences, since: datetime, until: datetime
) -> Iterable[Notification]:
    """The user's notifications of their digest categories in ``(since, until]``, oldest
    first."""
    held = held_kinds_filter(prefs.digest_categories)
    kinds = Q(kind__in=held["include"])
    if held["others"]:
        kinds |= ~Q(kind__in=[k for ks in CATEGORIES.values() for k in ks] + [DIGEST_KIND])
    return (
        Notification.objects.filter(
            kinds, recipient_id=user_id, created_at__gt=since, created_at__lte=until
        )
        .select_related("customer")
        .order_by("created_at", "pk")
    )


def build(
    user_id: int,
    prefs: Preferences,
    notifications: list[Notification],
    day: str,
    now: datetime,
) -> Notification:
    """The digest notification (module rules 3–4), unsaved."""
    by_category: dict[str, list[Notification]] = {}
    for notification in notifications:
        by_category.setdefault(category_of(notification.kind), []).append(notification)
    with translation.override(prefs.reader_language):
        lines = [
            _line(category, by_category[category], now)
            for category in CATEGORIES
            if category in by_category
        ]
        title_facts = {"day": day}
        written_title = render(DIGEST_TITLE, title_facts)
        written_body = render_lines(lines)
    return Notification(
        recipient_id=user_id,
        kind=DIGEST_KIND,
        title=written_title[:200],
        body=written_body,
        title_template=DIGEST_TITLE,
        params={"title": title_facts, "lines": lines, "count": len(notifications)},
        dedupe_key=f"digest:{user_id}:{day}",
    )


def _items(names: list[str]) -> list[str]:
    unique = list(dict.fromkeys(name for name in names if name))
    return unique[:TOP_ITEMS] + ([MORE] if len(unique) > TOP_ITEMS else [])


def _line(category: str, notifications: list[Notification], now: datetime) -> dict[str, Any]:
    if category == "recycle_warnings":
        return _recycle_line(notifications, now)
    names = [n.customer.name if n.customer else n.shown_title for n in notifications]
    return {"line": category, "n": len(notifications), "params": {"items": _items(names)}}


def _recycle_line(notifications: list[Notification], now: datetime) -> dict[str, Any]:
    customers: dict[Any, str] = {}
    days: list[int] = []
    for notification in notifications:
        key = notification.customer_id or notification.pk
        name = notification.customer.name if notification.customer else notification.shown_title
        customers.setdefault(key, name)
        due = _due(notification)
        if due is not None:
            days.append(max(1, math.ceil((due - now).total_seconds() / 86_400)))
    params: dict[str, Any] = {"items": _items(list(customers.values()))}
    if days:
        params["days"] = max(days)
    line = "recycle_within" if days else "recycle_soon"
    return {"line": line, "n": len(customers), "params": params}


def _due(notification: Notification) -> datetime | None:
    due = notification.params.get("body", {}).get("due")
    if not isinstance(due, str):
        return None
    try:
        return timezone.make_aware(datetime.strptime(due, DUE_FORMAT))
    except ValueError:
        return None
