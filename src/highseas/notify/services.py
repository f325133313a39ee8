"""Sending and reading notifications. A business change writes its notifications in its own
transaction, so that someone is told if and only if the change commits (nothing for one that
rolled back, nothing lost, and no error answered for a change that was saved); e-mail and
webhook deliveries are written to the outbox with the row (``notify.outbox``) and sent by a
worker once committed, never on the caller's path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.delivery import has_channels
from highseas.notify.models import Delivery, Notification
from highseas.notify.outbox import enqueue, enqueue_many
from highseas.notify.texts import SystemText

TITLE_LENGTH = Notification._meta.get_field("title").max_length or 200


Text = str | SystemText


def _stored(text: Text) -> tuple[str, str, dict[str, Any], str]:
    """(the text in the organisation's language, its template, its facts, the extra)."""
    if isinstance(text, str):
        return text, "", {}, ""
    with translation.override(settings.LANGUAGE_CODE):
        written = text.render()
    return written, text.template, dict(text.params), text.extra


def notify(
    recipient_id: int,
    kind: str,
    title: Text,
    body: Text = "",
    customer_id: int | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Create one in-app notification and queue it on the optional channels in the same
    transaction; with ``dedupe_key``, at most once ever (a repeat returns None and queues
    nothing). A ``SystemText`` title or body is kept as its template and facts as well, so
    that it reads in each reader's language (``notify.texts``)."""
    try:
        with transaction.atomic():
            notification = _build(recipient_id, kind, title, body, customer_id)
            notification.dedupe_key = dedupe_key
            notification.save(force_insert=True)
            if has_channels():
                enqueue(notification)
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None
    return notification


def _texts(title: Text, body: Text) -> tuple[str, str, str, str, dict[str, Any]]:
    """(title, body, title template, body template, parameters) as a notification stores
    them."""
    title_text, title_template, title_params, _title_extra = _stored(title)
    body_text, body_template, body_params, body_extra = _stored(body)
    params: dict[str, Any] = {}
    if title_template:
        params["title"] = title_params
    if body_template:
        params.update(body=body_params, body_extra=body_extra)
    return title_text[:TITLE_LENGTH], body_text, title_template, body_template, params


def _build(
    recipient_id: int, kind: str, title: Text, body: Text, customer_id: int | None
) -> Notification:
    title_text, body_text, title_template, body_template, params = _texts(title, body)
    return Notification(
        recipient_id=recipient_id,
        kind=kind,
        title=title_text,
        body=body_text,
        customer_id=customer_id,
        title_template=title_template,
        body_template=body_template,
        params=params,
    )


Draft = tuple[int, str, Text, Text, int | None]  # recipient, kind, title, body, customer

# What ``notify_many`` writes of each notification, in the model's field order: every column
# but the id and the two left at their defaults (no dedupe key, unread).
WRITTEN = (
    *("recipient_id", "kind", "title", "body", "customer_id", "created_at"),
    *("title_template", "body_template", "params"),
)
ROWS_PER_STATEMENT = 500


@cache
def _insert_sql(vendor: str, rows: int) -> str:
    """``INSERT`` of ``rows`` notifications (the ``WRITTEN`` columns) answering their ids, in
    the rows' order (parameters row after row)."""
    quote = connection.ops.quote_name
    column_of = {field.attname: field.column for field in Notification._meta.concrete_fields}
    names = [quote(column_of[name]) for name in WRITTEN]
    marks = "(" + ", ".join(["%s"] * len(WRITTEN)) + ")"
    return (
        f"INSERT INTO {quote(Notification._meta.db_table)} ({', '.join(names)}) "
        f"VALUES {', '.join([marks] * rows)} RETURNING {quote(Notification._meta.pk.column)}"
    )


def _values(draft: Draft, at: Any) -> tuple[Any, ...]:
    """A draft's row as the driver takes it: ``_build``'s fields, prepared as the ORM saves
    them (the time adapted for the database, the parameters as its JSON)."""
    recipient_id, kind, title, body, customer_id = draft
    title_text, body_text, title_template, body_template, params = _texts(title, body)
    return (
        *(recipient_id, kind, title_text, body_text, customer_id, at),
        *(title_template, body_template, connection.ops.adapt_json_value(params, None)),
    )


def notify_many(drafts: Sequence[Draft]) -> list[int]:
    """Create many notifications (without dedupe keys) in one transaction, with their
    deliveries queued (``outbox.enqueue_many``), and answer their ids in the drafts' order:
    what a sweep batch or an assignment run tells its owners at once. One precompiled
    ``INSERT … RETURNING`` a chunk of rows, where the ORM's ``bulk_create`` built and prepared
    a model instance a row; the rows are ``_build``'s, created at one moment."""
    if not drafts:
        return []
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    rows = [_values(draft, at) for draft in drafts]
    ids: list[int] = []
    # all or nothing with the caller's transaction (no savepoint: two round trips less)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            cursor.execute(
                _insert_sql(connection.vendor, len(chunk)), [v for row in chunk for v in row]
            )
            ids.extend(found[0] for found in cursor.fetchall())
        if has_channels():
            created = []
            for new_id, draft in zip(ids, drafts, strict=True):
                notification = Notification(
                    id=new_id, recipient_id=draft[0], kind=draft[1], created_at=now
                )
                notification._state.adding = False
                created.append(notification)
            enqueue_many(created)
    return ids


@dataclass(frozen=True)
class Tally:
    """What a recipient is told of one transaction of a job that goes on over several (an
    assignment run's batches): ``count`` more items, the first of them named (``names``);
    ``customer_id`` is the item when there is only one."""

    recipient_id: int
    key: str  # the job's and the recipient's: one notification for both
    count: int
    names: list[str]
    customer_id: int | None = None


NAMED = 5  # names a tally's notification lists before "…"
# how long a tally's e-mail waits for the job to add to it before it goes: longer than a
# batch of an assignment run takes, even paced down behind claims
TALLY_QUIET = timedelta(seconds=30)


def notify_tallies(kind: str, tallies: Sequence[Tally], title: Callable[[int], str]) -> None:
    """One notification per recipient and key that each later call adds to, in the caller's
    transaction, so the recipient is told iff the items commit: the first call creates it
    (``dedupe_key``: the key) and queues its deliveries ``TALLY_QUIET`` ahead; a later one
    adds its count and names, marks it unread again and pushes its deliveries not yet tried
    ``TALLY_QUIET`` ahead again, so that the e-mail goes once the job has stopped adding, and
    tells the total (it is written when sent). Its time stays the first's: a daily digest
    gathers by it, and would gather it twice. ``title(total)``: its title. A job's
    transactions come one after the other: no two add to one at once."""
    if not tallies:
        return
    found = Notification.objects.filter(dedupe_key__in=[t.key for t in tallies])
    if connection.features.has_select_for_update:
        found = found.select_for_update()
    known = {n.dedupe_key: n for n in found}
    fresh: list[Notification] = []
    grown: list[Notification] = []
    for tally in tallies:
        notification = known.get(tally.key)
        before = notification.params.get("tally", {}) if notification else {}
        total = before.get("count", 0) + tally.count
        names = [*before.get("names", []), *tally.names][:NAMED]
        body = "、".join(names) + ("…" if total > len(names) else "")
        params = {"tally": {"count": total, "names": names}}
        if notification is None:
            notification = Notification(
                recipient_id=tally.recipient_id,
                kind=kind,
                customer_id=tally.customer_id if total == 1 else None,
                dedupe_key=tally.key,
            )
            fresh.append(notification)
        else:
            grown.append(notification)
        notification.title = title(total)[:TITLE_LENGTH]
        notification.body = body
        notification.params = params
    Notification.objects.bulk_create(fresh)
    if grown:  # one precompiled statement for them all (``bulk_update``'s CASE cost 0.2 s)
        with connection.cursor() as cursor:
            cursor.executemany(
                _grown_sql(),
                [
                    (n.title, n.body, connection.ops.adapt_json_value(n.params, None), n.pk)
                    for n in grown
                ],
            )
    if has_channels():
        quiet_until = timezone.now() + TALLY_QUIET
        if fresh:
            enqueue_many(fresh, not_before=quiet_until)
        if grown:
            Delivery.objects.filter(
                notification__in=[n.pk for n in grown], state=Delivery.State.PENDING, attempts=0
            ).update(next_attempt_at=quiet_until)


def _grown_sql() -> str:
    """The ``UPDATE`` of a tally's notification that a later part added to."""
    quote = connection.ops.quote_name
    column = {field.name: quote(field.column) for field in Notification._meta.concrete_fields}
    return (
        f"UPDATE {quote(Notification._meta.db_table)} SET {column['title']} = %s, "
        f"{column['body']} = %s, {column['params']} = %s, {column['customer']} = NULL, "
        f"{column['read_at']} = NULL WHERE {column['id']} = %s"
    )


def mark_read(user: User, notification_id: int, now: datetime) -> Notification:
    """Mark one of ``user``'s notifications read; reading it again keeps the first time."""
    mine = Notification.objects.filter(pk=notification_id, recipient=user)
    mine.filter(read_at__isnull=True).update(read_at=now)
    notification = mine.first()
    if notification is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such notification."))
    return notification


def mark_some_read(user: User, notification_ids: Sequence[int], now: datetime) -> int:
    """Mark those of ``notification_ids`` that are ``user``'s and unread read (a day's group in
    the inbox); another user's ids change nothing. Returns how many changed."""
    mine = Notification.objects.filter(recipient=user, pk__in=list(notification_ids)[:500])
    return mine.filter(read_at__isnull=True).update(read_at=now)


def mark_all_read(user: User, now: datetime) -> int:
    """Mark every unread notification of ``user`` read; returns how many changed."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=now)
