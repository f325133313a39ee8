"""Reminders besides recycling (SPEC §6): next contacts, birthdays, important dates, due tasks.

``send_due_reminders(now)`` is safe to run as often as the scheduler likes:

1. Each reminder has a ``dedupe_key`` (unique in the database), so it is sent at most once ever:
   ``next_contact:<activity>``, ``birthday:<contact>:<year>``,
   ``important_date:<contact>:<label>:<year>``, ``task_due:<task>``.
2. The work is O(due): next contacts and tasks are read on their due time within a look-back
   window (``LOOKBACK``, 7 days) so that a backlog older than that — a first run on imported
   data, a scheduler that was down for a month — is not sent as a flood of stale reminders;
   birthdays and important dates are read for today only. Keys already sent are skipped with
   one indexed lookup per batch, and batches are bounded.
3. Customer reminders go to the customer's *current* owner; customers in a pool remind nobody.
   A next-contact plan is superseded by a later follow-up on the same customer that plans its
   own next contact (the newest plan wins). Task reminders go to the assignee.
4. "Today" is the organization's local date (``TIME_ZONE``). A birthday or date on Feb 29 is
   remembered on Feb 28 in years without Feb 29.
5. Titles are written in the organization's language (``LANGUAGE_CODE``), whatever language
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
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from highseas.customers.models import Activity, Contact, Task
from highseas.notify import texts
from highseas.notify.models import Notification
from highseas.notify.services import Text, notify

logger = logging.getLogger("highseas.notify")

LOOKBACK = timedelta(days=7)
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
    with translation.override(settings.LANGUAGE_CODE):
        counts = {
            "next_contact": _send("next_contact", next_contact_reminders(now, lookback)),
            "birthday": _send("birthday", birthday_reminders(today)),
            "important_date": _send("important_date", important_date_reminders(today)),
            "task_due": _send("task_due", task_due_reminders(now, lookback)),
        }
    logger.info("reminders at %s: %s", now.isoformat(), counts)
    return counts


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


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def anniversary_days(today: date) -> list[tuple[int, int]]:
    """The (month, day) pairs remembered today: Feb 29 falls on Feb 28 in common years."""
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append((2, 29))
    return days


def next_contact_reminders(now: datetime, lookback: timedelta) -> Iterator[list[Reminder]]:
    newer_plan = Activity.objects.filter(
        customer=OuterRef("customer"), pk__gt=OuterRef("pk"), next_contact_at__isnull=False
    )
    due = (
        Activity.objects.filter(
            next_contact_at__gt=now - lookback,
            next_contact_at__lte=now,
            customer__owner__isnull=False,
        )
        .filter(~Exists(newer_plan))
        .select_related("customer")
    )
    for batch in _batches(due):
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


def task_due_reminders(now: datetime, lookback: timedelta) -> Iterator[list[Reminder]]:
    due = Task.objects.filter(
        done_at__isnull=True, due_at__gt=now - lookback, due_at__lte=now
    ).select_related("customer")
    for batch in _batches(due):
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
