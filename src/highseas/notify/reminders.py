"""Reminders besides recycling (SPEC §6): next contacts, birthdays, important dates, due tasks.

``send_due_reminders(now)`` is safe to run as often as the scheduler likes:

1. Each reminder has a ``dedupe_key`` (unique in the database), so it is sent at most once ever:
   ``next_contact:<activity>``, ``birthday:<contact>:<year>``,
   ``important_date:<contact>:<label>:<year>``, ``task_due:<task>``.
2. The work is O(due): next contacts and tasks are read on their due time's index within a
   look-back window (``LOOKBACK``, 7 days) so that a backlog older than that — a first run on
   imported data, a scheduler that was down for a month — is not sent as a flood of stale
   reminders; birthdays and important dates are read for today only. Next contacts and tasks
   already reminded are left out by the database (their dedupe key's unique index); other
   keys already sent are skipped with one indexed lookup per batch; batches are bounded.
3. An idle minute costs little (``ReminderMark``): a run reads only the next contacts and tasks
   that fell due since the last run (``through``, less ``OVERLAP`` for rows committed late),
   so a worker that missed minutes catches up on them and two workers at once read the same
   few rows, the dedupe keys sending each once. A full pass — the whole look-back window and
   the day's birthdays and dates — runs on the first run, at least every ``FULL_EVERY``, on the
   first run of each local day, and whenever the clock reads earlier than the mark; it sends
   what the short reads cannot see: a plan written with a due time already long past, or a
   customer that got its owner after its plan fell due. The mark moves on only after every
   reminder of the run was sent; a run that fails reads the same again next time.
4. Customer reminders go to the customer's *current* owner; customers in a pool remind nobody.
   A next-contact plan is superseded by a later follow-up on the same customer that plans its
   own next contact (the newest plan wins). Task reminders go to the assignee.
5. "Today" is the organization's local date (``TIME_ZONE``). A birthday or date on Feb 29 is
   remembered on Feb 28 in years without Feb 29.
6. Titles are written in the organization's language (``LANGUAGE_CODE``), whatever language
   the caller's request had.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import CharField, Exists, Model, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from highseas.customers.models import Activity, Contact, Task
from highseas.notify import texts
from highseas.notify.models import Notification, ReminderMark
from highseas.notify.services import Text, notify

logger = logging.getLogger("highseas.notify")

LOOKBACK = timedelta(days=7)
FULL_EVERY = timedelta(hours=1)  # the longest between two full passes
OVERLAP = timedelta(minutes=2)  # a short read starts this long before the mark
MARK = "reminders"
BATCH_SIZE = 500
LABEL_KEY_LENGTH = 120

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Reminder:
    recipient_id: int
    title: Text
    body: Text
    customer_id: int | None
    dedupe_key: str


def send_due_reminders(now: datetime, *, lookback: timedelta = LOOKBACK) -> dict[str, int]:
    """Send every reminder due at ``now`` that was not sent before; counts sent per kind."""
    today = timezone.localdate(now)
    window = read_window(now)
    since = window.since
    with translation.override(settings.LANGUAGE_CODE):
        counts = {
            "next_contact": _send("next_contact", next_contact_reminders(now, lookback, since)),
            "birthday": _send("birthday", birthday_reminders(today)) if window.full else 0,
            "important_date": (
                _send("important_date", important_date_reminders(today)) if window.full else 0
            ),
            "task_due": _send("task_due", task_due_reminders(now, lookback, since)),
        }
    _move_mark(now, window)
    logger.info("reminders at %s (%s): %s", now.isoformat(), window.name, counts)
    return counts


@dataclass(frozen=True)
class Window:
    """What one run reads: next contacts and tasks due after ``since`` (up to its ``now``);
    a ``full`` pass also reads the day's birthdays and dates."""

    since: datetime | None  # None: the whole look-back window
    full: bool
    marked: bool  # whether the mark's row exists

    @property
    def name(self) -> str:
        return "full" if self.full else f"since {self.since.isoformat() if self.since else '-'}"


def read_window(now: datetime) -> Window:
    """The run's window from the mark (see the module, 3)."""
    mark = ReminderMark.objects.filter(pk=MARK).first()
    if mark is None:
        return Window(None, full=True, marked=False)
    stale = now - mark.full_at >= FULL_EVERY or mark.full_at > now or mark.through > now
    if stale or timezone.localdate(mark.full_at) != timezone.localdate(now):
        return Window(None, full=True, marked=True)
    return Window(mark.through - OVERLAP, full=False, marked=True)  # ``_since`` bounds it


def _move_mark(now: datetime, window: Window) -> None:
    """Move the mark forward to ``now`` (and its full pass, after one), never back."""
    if not window.marked:
        ReminderMark.objects.bulk_create(  # another worker's row wins; the updates decide
            [ReminderMark(pk=MARK, through=now, full_at=now)], ignore_conflicts=True
        )
    marks = ReminderMark.objects.filter(pk=MARK)
    if window.full:
        marks.filter(full_at__lt=now).update(full_at=now)
    marks.filter(through__lt=now).update(through=now)


def _send(kind: str, batches: Iterable[list[Reminder]]) -> int:
    sent = 0
    for batch in batches:
        keys = [reminder.dedupe_key for reminder in batch]
        done = set(
            Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
        )
        for reminder in batch:
            if reminder.dedupe_key in done:
                continue
            created = notify(
                reminder.recipient_id,
                kind,
                reminder.title,
                reminder.body,
                reminder.customer_id,
                dedupe_key=reminder.dedupe_key,
            )
            sent += created is not None
    return sent


def _batches(queryset: QuerySet[M]) -> Iterator[list[M]]:
    """Bounded keyset batches in primary-key order."""
    last_pk: Any = 0
    while batch := list(queryset.filter(pk__gt=last_pk).order_by("pk")[:BATCH_SIZE]):
        yield batch
        last_pk = batch[-1].pk


def _due_batches(queryset: QuerySet[M], due: str) -> Iterator[list[M]]:
    """Bounded keyset batches in ``(due, pk)`` order: the order of the due time's index (which
    holds the key), so a narrow window reads only its own rows."""
    page = queryset
    while batch := list(page.order_by(due, "pk")[:BATCH_SIZE]):
        yield batch
        last_due, last_pk = getattr(batch[-1], due), batch[-1].pk
        page = queryset.filter(
            Q(**{f"{due}__gt": last_due}) | Q(**{due: last_due, "pk__gt": last_pk})
        )


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def anniversary_days(today: date) -> list[tuple[int, int]]:
    """The (month, day) pairs remembered today: Feb 29 falls on Feb 28 in common years."""
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append((2, 29))
    return days


def _sent(kind: str) -> Exists:
    """Whether the row's reminder (dedupe key ``<kind>:<pk>``) was sent: one lookup on the
    key's unique index, so a pass over a window already reminded reads no row of it."""
    key = Concat(Value(f"{kind}:"), Cast(OuterRef("pk"), CharField()), output_field=CharField())
    return Exists(Notification.objects.filter(dedupe_key=key))


def _since(now: datetime, lookback: timedelta, since: datetime | None) -> datetime:
    earliest = now - lookback
    return earliest if since is None or since < earliest else since


def next_contact_reminders(
    now: datetime, lookback: timedelta, since: datetime | None = None
) -> Iterator[list[Reminder]]:
    """Plans due after ``since`` (the whole look-back window when ``None``) up to ``now``."""
    newer_plan = Activity.objects.filter(
        customer=OuterRef("customer"), pk__gt=OuterRef("pk"), next_contact_at__isnull=False
    )
    due = (
        Activity.objects.filter(
            next_contact_at__gt=_since(now, lookback, since),
            next_contact_at__lte=now,
            customer__owner__isnull=False,
        )
        .filter(~Exists(newer_plan), ~_sent("next_contact"))
        .select_related("customer")
    )
    for batch in _due_batches(due, "next_contact_at"):
        yield [_next_contact(activity) for activity in batch]


def _next_contact(activity: Activity) -> Reminder:
    customer = activity.customer
    assert customer.owner_id is not None and activity.next_contact_at is not None
    body = texts.SystemText(
        texts.NEXT_CONTACT, {"when": _when(activity.next_contact_at)}, activity.note or ""
    )
    return Reminder(
        recipient_id=customer.owner_id,
        title=texts.SystemText(texts.FOLLOW_UP_WITH, {"customer": customer.name}),
        body=body,
        customer_id=customer.pk,
        dedupe_key=f"next_contact:{activity.pk}",
    )


def birthday_reminders(today: date) -> Iterator[list[Reminder]]:
    born_today = reduce(
        or_, (Q(birthday__month=m, birthday__day=d) for m, d in anniversary_days(today))
    )
    contacts = Contact.objects.filter(born_today, customer__owner__isnull=False).select_related(
        "customer"
    )
    for batch in _batches(contacts):
        yield [_birthday(contact, today) for contact in batch]


def _birthday(contact: Contact, today: date) -> Reminder:
    customer = contact.customer
    assert customer.owner_id is not None
    names = {"contact": contact.name, "customer": customer.name}
    return Reminder(
        recipient_id=customer.owner_id,
        title=texts.SystemText(texts.BIRTHDAY, names),
        body=texts.SystemText(texts.BIRTHDAY_BODY, names),
        customer_id=customer.pk,
        dedupe_key=f"birthday:{contact.pk}:{today.year}",
    )


def important_date_reminders(today: date) -> Iterator[list[Reminder]]:
    """JSON filtering is not portable, so only contacts of owned customers that have dates
    at all are read, and their dates are matched here."""
    contacts = (
        Contact.objects.filter(customer__owner__isnull=False)
        .exclude(important_dates=[])
        .select_related("customer")
    )
    days = anniversary_days(today)
    for batch in _batches(contacts):
        yield [
            _important_date(contact, label, when, today)
            for contact in batch
            for label, when in parse_important_dates(contact.important_dates)
            if (when.month, when.day) in days
        ]


def parse_important_dates(raw: object) -> list[tuple[str, date]]:
    """The well-formed ``{"label", "date": "YYYY-MM-DD"}`` entries; others are ignored."""
    if not isinstance(raw, list):
        return []
    dates = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("date"), str):
            continue
        try:
            when = date.fromisoformat(entry["date"])
        except ValueError:
            continue
        label = entry.get("label")
        dates.append((str(label).strip() if label else "", when))
    return dates


def _important_date(contact: Contact, label: str, when: date, today: date) -> Reminder:
    customer = contact.customer
    assert customer.owner_id is not None
    facts = {
        "label": label or _("Important date"),
        "contact": contact.name,
        "customer": customer.name,
        "date": when.isoformat(),
    }
    return Reminder(
        recipient_id=customer.owner_id,
        title=_("%(label)s today: %(contact)s (%(customer)s)") % facts,
        body=_("%(label)s of %(contact)s, dated %(date)s.") % facts,
        customer_id=customer.pk,
        dedupe_key=f"important_date:{contact.pk}:{label[:LABEL_KEY_LENGTH]}:{today.year}",
    )


def task_due_reminders(
    now: datetime, lookback: timedelta, since: datetime | None = None
) -> Iterator[list[Reminder]]:
    """Open tasks due after ``since`` (the whole look-back window when ``None``) up to ``now``."""
    due = (
        Task.objects.filter(
            done_at__isnull=True, due_at__gt=_since(now, lookback, since), due_at__lte=now
        )
        .filter(~_sent("task_due"))
        .select_related("customer")
    )
    for batch in _due_batches(due, "due_at"):
        yield [_task_due(task) for task in batch]


def _task_due(task: Task) -> Reminder:
    assert task.due_at is not None
    extra = task.customer.name if task.customer is not None else ""
    body = texts.SystemText(texts.DUE_AT, {"when": _when(task.due_at)}, extra)
    return Reminder(
        recipient_id=task.assignee_id,
        title=texts.SystemText(texts.TASK_DUE, {"task": task.title}),
        body=body,
        customer_id=task.customer_id,
        dedupe_key=f"task_due:{task.pk}",
    )
