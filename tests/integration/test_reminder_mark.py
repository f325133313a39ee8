"""The reminder job's mark (``notify.reminders``, ``ReminderMark``): an idle minute reads only
what fell due since the last run, on the due time's index, yet nothing is missed or sent twice —
a reminder due between two runs is sent once, a worker that missed minutes catches up, two
workers at once send each reminder once, and a full pass sends what the short reads cannot
see."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from highseas.customers.models import Activity, Contact, Customer, Task
from highseas.notify.models import Notification, ReminderMark
from highseas.notify.reminders import FULL_EVERY, OVERLAP, read_window, send_due_reminders
from tests.races import race

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)
MINUTE = timedelta(minutes=1)
DEDUPE_LOOKUP = 'SELECT "notify_notification"."dedupe_key"'  # a batch's keys looked up


@pytest.fixture
def owned(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["admin"], owner=org["rep_a"], pool=org["east_pool"], name="星辰科技")


def plan(customer: Customer, next_contact_at: datetime) -> Activity:
    return Activity.objects.create(
        customer=customer,
        kind="call",
        occurred_at=NOW - timedelta(days=3),
        author=customer.owner,
        note="报价单已发",
        next_contact_at=next_contact_at,
    )


def sent(kind: str = "next_contact") -> Counter[str]:
    return Counter(Notification.objects.filter(kind=kind).values_list("dedupe_key", flat=True))


@pytest.mark.django_db
def test_a_reminder_due_between_two_runs_is_sent_once_by_the_next(
    org: dict[str, Any], owned: Customer
) -> None:
    send_due_reminders(NOW)
    activity = plan(owned, NOW + timedelta(seconds=30))
    task = Task.objects.create(
        title="寄样品", assignee=org["rep_a"], customer=owned, due_at=NOW + timedelta(seconds=40)
    )
    assert read_window(NOW + MINUTE).full is False  # a short read
    assert send_due_reminders(NOW + MINUTE)["next_contact"] == 1
    assert send_due_reminders(NOW + 2 * MINUTE)["next_contact"] == 0
    assert sent() == Counter({f"next_contact:{activity.pk}": 1})
    assert sent("task_due") == Counter({f"task_due:{task.pk}": 1})


@pytest.mark.django_db
def test_a_worker_that_missed_minutes_catches_up_on_what_fell_due_meanwhile(
    org: dict[str, Any], owned: Customer, make_customer: Callable[..., Customer]
) -> None:
    send_due_reminders(NOW)
    others = [
        make_customer(org["admin"], owner=org["rep_b"], pool=org["east_pool"]) for _ in range(2)
    ]
    plans = [
        plan(customer, NOW + timedelta(minutes=minutes))
        for customer, minutes in zip([owned, *others], (5, 20, 40), strict=True)
    ]
    later = NOW + timedelta(minutes=45)  # the job did not run for 44 minutes
    assert read_window(later).full is False
    assert send_due_reminders(later)["next_contact"] == 3
    assert sent() == Counter({f"next_contact:{p.pk}": 1 for p in plans})


@pytest.mark.django_db
def test_an_idle_minute_reads_no_plan_already_reminded(
    org: dict[str, Any], owned: Customer, make_customer: Callable[..., Customer]
) -> None:
    """Thirty plans fell due in the last hour (before the overlap a short read looks back)
    and were reminded; the next minute's run reads none of them (no batch, so no dedupe
    lookup), only the mark and the empty windows."""
    customers = [
        make_customer(org["admin"], owner=org["rep_a"], pool=org["east_pool"]) for _ in range(30)
    ]
    for index, customer in enumerate(customers):
        plan(customer, NOW - OVERLAP - timedelta(minutes=index + 1))
    assert send_due_reminders(NOW)["next_contact"] == 30
    with CaptureQueriesContext(connection) as captured:
        counts = send_due_reminders(NOW + MINUTE)
    assert counts == dict.fromkeys(("next_contact", "birthday", "important_date", "task_due"), 0)
    read = [q["sql"] for q in captured.captured_queries]
    plans = [sql for sql in read if 'FROM "customers_activity"' in sql]
    since = (NOW - OVERLAP).astimezone(ZoneInfo("UTC")).strftime("%H:%M:%S")
    assert len(plans) == 1 and since in plans[0], plans  # from the mark, not 7 days back
    assert not [sql for sql in read if sql.startswith(DEDUPE_LOOKUP)], read  # no batch read
    assert not [sql for sql in read if "customers_contact" in sql], read  # no full pass
    assert len(read) <= 4, read  # the mark, two empty windows, the mark moved on


@pytest.mark.django_db
def test_a_full_pass_over_a_window_already_reminded_reads_none_of_its_plans(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """The hourly full pass reads the whole look-back window, but the database leaves out
    what was reminded (the dedupe key's index): no batch of plans comes back to be looked up."""
    for index in range(30):
        customer = make_customer(org["admin"], owner=org["rep_a"], pool=org["east_pool"])
        plan(customer, NOW - timedelta(hours=index + 1))
        Task.objects.create(
            title="回访", assignee=org["rep_a"], due_at=NOW - timedelta(hours=index + 1)
        )
    first = send_due_reminders(NOW)
    assert (first["next_contact"], first["task_due"]) == (30, 30)
    assert read_window(NOW + FULL_EVERY).full is True
    with CaptureQueriesContext(connection) as captured:
        counts = send_due_reminders(NOW + FULL_EVERY)
    assert (counts["next_contact"], counts["task_due"]) == (0, 0)
    read = [q["sql"] for q in captured.captured_queries]
    assert not [sql for sql in read if sql.startswith(DEDUPE_LOOKUP)], read


@pytest.mark.django_db
def test_a_plan_written_with_a_due_time_long_past_is_sent_by_the_next_full_pass(
    org: dict[str, Any], owned: Customer
) -> None:
    send_due_reminders(NOW)
    activity = plan(owned, NOW - OVERLAP - 20 * MINUTE)  # before what a short read looks at
    assert send_due_reminders(NOW + MINUTE)["next_contact"] == 0
    assert read_window(NOW + FULL_EVERY).full is True
    assert send_due_reminders(NOW + FULL_EVERY)["next_contact"] == 1
    assert sent() == Counter({f"next_contact:{activity.pk}": 1})


@pytest.mark.django_db
def test_the_first_run_of_a_local_day_sends_its_birthdays(
    org: dict[str, Any], owned: Customer
) -> None:
    evening = datetime(2026, 3, 9, 23, 58, tzinfo=SHANGHAI)
    send_due_reminders(evening)
    Contact.objects.create(customer=owned, name="李雷", birthday=date(1980, 3, 10))
    assert send_due_reminders(evening + 3 * MINUTE)["birthday"] == 1  # 00:01 the next day
    assert send_due_reminders(evening + 4 * MINUTE)["birthday"] == 0


@pytest.mark.django_db
def test_a_late_worker_with_an_earlier_now_never_moves_the_mark_back(
    org: dict[str, Any], owned: Customer
) -> None:
    send_due_reminders(NOW)
    send_due_reminders(NOW + 2 * MINUTE)
    send_due_reminders(NOW + MINUTE)  # a worker that took its now earlier, and came late
    mark = ReminderMark.objects.get()
    assert mark.through == NOW + 2 * MINUTE
    # a minute that fell due after the earlier now, before the later one, is not lost
    activity = plan(owned, NOW + 2 * MINUTE + timedelta(seconds=10))
    assert send_due_reminders(NOW + 3 * MINUTE)["next_contact"] == 1
    assert sent() == Counter({f"next_contact:{activity.pk}": 1})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first_run", [False, True])
def test_two_workers_at_once_send_each_reminder_once(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
    first_run: bool,
) -> None:
    """Four workers run the job at the same minute (the first run ever, or a short read after
    an earlier run): each due plan is reminded once, and the mark ends at that minute."""
    if not first_run:
        send_due_reminders(NOW - 5 * MINUTE)
    customers = [
        make_customer(org["admin"], owner=org["rep_a"], pool=org["east_pool"]) for _ in range(12)
    ]
    plans = [plan(c, NOW - timedelta(seconds=10 * (i + 1))) for i, c in enumerate(customers)]
    counts: list[int] = [0] * 4

    def work(index: int) -> None:
        counts[index] = send_due_reminders(NOW)["next_contact"]

    assert race(4, work) == Counter({"ok": 4})
    assert sum(counts) == 12
    assert sent() == Counter({f"next_contact:{p.pk}": 1 for p in plans})
    mark = ReminderMark.objects.get()
    assert (mark.through, mark.full_at <= NOW) == (NOW, True)
