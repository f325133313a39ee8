"""Reminders (SPEC §6): each kind fires once, at its moment, to the right person; the optional
e-mail and webhook channels are queued with the notification and sent by the outbox's worker,
never on the caller's path."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import translation
from pytest_django.fixtures import Settings

from highseas.customers.models import Activity, Contact, Customer, Task
from highseas.notify.models import Delivery, Notification
from highseas.notify.outbox import FIRST_RETRY, deliver_due
from highseas.notify.reminders import send_due_reminders
from highseas.notify.services import notify

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)
NOTHING = {"next_contact": 0, "birthday": 0, "important_date": 0, "task_due": 0}
CaptureOnCommit = Callable[..., Any]


def only(**counts: int) -> dict[str, int]:
    return {**NOTHING, **counts}


@pytest.fixture
def owned(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["admin"], owner=org["rep_a"], pool=org["east_pool"], name="星辰科技")


@pytest.fixture
def pooled(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["admin"], pool=org["east_pool"], name="公海客户")


def plan(customer: Customer, author: Any, next_contact_at: datetime) -> Activity:
    return Activity.objects.create(
        customer=customer,
        kind="call",
        occurred_at=NOW - timedelta(days=3),
        author=author,
        note="报价单已发",
        next_contact_at=next_contact_at,
    )


def inbox(user: Any) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(recipient=user).order_by("id").values_list("kind", "title")
    )


# Next contact


def test_next_contact_reminds_the_current_owner_once_when_due(
    org: dict[str, Any], owned: Customer
) -> None:
    activity = plan(owned, org["rep_b"], NOW + timedelta(hours=1))
    assert send_due_reminders(NOW) == NOTHING
    assert send_due_reminders(NOW + timedelta(hours=1)) == only(next_contact=1)
    assert send_due_reminders(NOW + timedelta(hours=2)) == NOTHING
    reminder = Notification.objects.get()
    assert (reminder.recipient, reminder.customer, reminder.dedupe_key) == (
        org["rep_a"],
        owned,
        f"next_contact:{activity.pk}",
    )
    assert reminder.title == "请跟进客户：星辰科技"
    assert reminder.body == "计划下次联系时间：2026-03-10 10:00。\n报价单已发"


def test_a_next_contact_older_than_the_look_back_window_is_not_sent(
    org: dict[str, Any], owned: Customer
) -> None:
    plan(owned, org["rep_a"], NOW - timedelta(days=8))
    assert send_due_reminders(NOW) == NOTHING
    assert not Notification.objects.exists()


def test_the_newest_plan_supersedes_an_older_one(org: dict[str, Any], owned: Customer) -> None:
    plan(owned, org["rep_a"], NOW - timedelta(hours=1))
    newer = plan(owned, org["rep_a"], NOW + timedelta(days=2))
    assert send_due_reminders(NOW) == NOTHING
    assert send_due_reminders(NOW + timedelta(days=2)) == only(next_contact=1)
    assert Notification.objects.get().dedupe_key == f"next_contact:{newer.pk}"


def test_a_pooled_customer_reminds_nobody(org: dict[str, Any], pooled: Customer) -> None:
    plan(pooled, org["rep_a"], NOW - timedelta(hours=1))
    Contact.objects.create(
        customer=pooled,
        name="李雷",
        birthday=date(1980, 3, 10),
        important_dates=[{"label": "签约纪念日", "date": "2020-03-10"}],
    )
    assert send_due_reminders(NOW) == NOTHING
    assert not Notification.objects.exists()


# Birthdays and important dates


def test_a_birthday_reminds_the_owner_once_on_the_local_day(
    org: dict[str, Any], owned: Customer
) -> None:
    contact = Contact.objects.create(customer=owned, name="韩梅梅", birthday=date(1990, 3, 10))
    eve = datetime(2026, 3, 9, 23, 59, tzinfo=SHANGHAI)
    assert send_due_reminders(eve) == NOTHING
    local_midnight_in_utc = datetime(2026, 3, 9, 16, 0, 30, tzinfo=ZoneInfo("UTC"))
    assert send_due_reminders(local_midnight_in_utc) == only(birthday=1)
    assert send_due_reminders(NOW) == NOTHING
    assert inbox(org["rep_a"]) == [("birthday", "今天生日：韩梅梅（星辰科技）")]
    assert Notification.objects.get().dedupe_key == f"birthday:{contact.pk}:2026"


def test_a_birthday_is_remembered_again_next_year(org: dict[str, Any], owned: Customer) -> None:
    Contact.objects.create(customer=owned, name="韩梅梅", birthday=date(1990, 3, 10))
    assert send_due_reminders(NOW) == only(birthday=1)
    assert send_due_reminders(NOW.replace(year=2027)) == only(birthday=1)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2027, 2, 28), 1),
        (date(2027, 3, 1), 0),
        (date(2028, 2, 28), 0),
        (date(2028, 2, 29), 1),
    ],
)
def test_a_feb_29_birthday_falls_on_feb_28_in_common_years(
    org: dict[str, Any], owned: Customer, today: date, expected: int
) -> None:
    Contact.objects.create(customer=owned, name="闰年生", birthday=date(1988, 2, 29))
    now = datetime(today.year, today.month, today.day, 9, 0, tzinfo=SHANGHAI)
    assert send_due_reminders(now) == only(birthday=expected)


def test_important_dates_remind_the_owner_once_per_label_and_year(
    org: dict[str, Any], owned: Customer
) -> None:
    contact = Contact.objects.create(
        customer=owned,
        name="王芳",
        important_dates=[
            {"label": "签约纪念日", "date": "2021-03-10"},
            {"label": "公司周年", "date": "2015-03-10"},
            {"label": "下月", "date": "2015-04-10"},
            {"label": "坏数据", "date": "not a date"},
            "not an entry",
        ],
    )
    Contact.objects.create(customer=owned, name="无日期")
    assert send_due_reminders(NOW - timedelta(days=1)) == NOTHING
    assert send_due_reminders(NOW) == only(important_date=2)
    assert send_due_reminders(NOW) == NOTHING
    assert set(Notification.objects.values_list("dedupe_key", flat=True)) == {
        f"important_date:{contact.pk}:签约纪念日:2026",
        f"important_date:{contact.pk}:公司周年:2026",
    }
    assert ("important_date", "今天是签约纪念日：王芳（星辰科技）") in inbox(org["rep_a"])


def test_an_important_date_on_feb_29_falls_on_feb_28_in_common_years(
    org: dict[str, Any], owned: Customer
) -> None:
    Contact.objects.create(
        customer=owned, name="王芳", important_dates=[{"label": "成立日", "date": "2016-02-29"}]
    )
    assert send_due_reminders(datetime(2027, 2, 28, 9, tzinfo=SHANGHAI)) == only(important_date=1)


# Tasks


def test_a_task_reminds_its_assignee_once_when_due(org: dict[str, Any], owned: Customer) -> None:
    task = Task.objects.create(
        customer=owned,
        title="寄送合同",
        assignee=org["rep_b"],
        created_by=org["rep_a"],
        due_at=NOW + timedelta(minutes=30),
    )
    assert send_due_reminders(NOW) == NOTHING
    assert send_due_reminders(NOW + timedelta(minutes=30)) == only(task_due=1)
    assert send_due_reminders(NOW + timedelta(days=1)) == NOTHING
    assert inbox(org["rep_b"]) == [("task_due", "任务到期：寄送合同")]
    assert Notification.objects.get().dedupe_key == f"task_due:{task.pk}"


def test_a_done_or_long_overdue_task_reminds_nobody(org: dict[str, Any]) -> None:
    Task.objects.create(
        title="已完成", assignee=org["rep_b"], due_at=NOW - timedelta(hours=1), done_at=NOW
    )
    Task.objects.create(title="积压", assignee=org["rep_b"], due_at=NOW - timedelta(days=30))
    Task.objects.create(title="无期限", assignee=org["rep_b"])
    assert send_due_reminders(NOW) == NOTHING


def test_titles_are_in_the_organization_language_whatever_the_caller_speaks(
    org: dict[str, Any], owned: Customer
) -> None:
    Task.objects.create(title="寄送合同", assignee=org["rep_b"], due_at=NOW)
    with translation.override("en"):
        send_due_reminders(NOW)
    assert inbox(org["rep_b"]) == [("task_due", "任务到期：寄送合同")]


# Channels


@pytest.fixture
def emailing(settings: Settings, mailoutbox: list[mail.EmailMessage]) -> None:
    settings.HIGHSEAS_EMAIL_NOTIFICATIONS = True
    settings.HIGHSEAS_WEBHOOK_URL = ""


def test_a_reminder_is_e_mailed_once_by_the_outbox_worker(
    org: dict[str, Any],
    owned: Customer,
    emailing: None,
    mailoutbox: list[mail.EmailMessage],
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    org["rep_a"].email = "rep_a@example.com"
    org["rep_a"].save(update_fields=["email"])
    Contact.objects.create(customer=owned, name="韩梅梅", birthday=date(1990, 3, 10))
    with django_capture_on_commit_callbacks(execute=True):
        send_due_reminders(NOW)
        send_due_reminders(NOW)
    assert mailoutbox == []  # the caller sends nothing
    assert deliver_due() == {"delivered": 1, "retrying": 0, "failed": 0}
    assert deliver_due() == {"delivered": 0, "retrying": 0, "failed": 0}
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["rep_a@example.com"], "今天生日：韩梅梅（星辰科技）")
    ]
    assert mailoutbox[0].body == "今天是星辰科技的联系人韩梅梅的生日。"


def test_no_e_mail_without_an_address_or_when_disabled(
    org: dict[str, Any],
    settings: Settings,
    mailoutbox: list[mail.EmailMessage],
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    settings.HIGHSEAS_EMAIL_NOTIFICATIONS = True
    with django_capture_on_commit_callbacks(execute=True):
        notify(org["rep_a"].pk, "test", "无地址")
    settings.HIGHSEAS_EMAIL_NOTIFICATIONS = False
    org["rep_b"].email = "rep_b@example.com"
    org["rep_b"].save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        notify(org["rep_b"].pk, "test", "未开启")
    deliver_due()
    assert mailoutbox == []
    assert (Notification.objects.count(), Delivery.objects.count()) == (2, 0)


def test_a_deduplicated_repeat_delivers_nothing(
    org: dict[str, Any],
    emailing: None,
    mailoutbox: list[mail.EmailMessage],
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    org["rep_a"].email = "rep_a@example.com"
    org["rep_a"].save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        first = notify(org["rep_a"].pk, "test", "一次", dedupe_key="once")
        second = notify(org["rep_a"].pk, "test", "一次", dedupe_key="once")
    assert first is not None and second is None
    assert Delivery.objects.count() == 1
    deliver_due()
    assert len(mailoutbox) == 1


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, str, str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length).decode())
        key = self.headers["Idempotency-Key"]
        self.received.append((self.path, self.headers["Content-Type"], key, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, list[tuple[str, str, str, Any]]]]:
    received: list[tuple[str, str, str, Any]] = []
    handler = type("RecordingReceiver", (Receiver,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/crm", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_webhook_receives_the_notification_as_json(
    org: dict[str, Any],
    owned: Customer,
    settings: Settings,
    webhook_server: tuple[str, list[tuple[str, str, str, Any]]],
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    url, received = webhook_server
    settings.HIGHSEAS_WEBHOOK_URL = url
    Task.objects.create(customer=owned, title="寄送合同", assignee=org["rep_b"], due_at=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        send_due_reminders(NOW)
        send_due_reminders(NOW)
    assert received == []
    deliver_due()
    deliver_due()
    notification = Notification.objects.get()
    assert received == [
        (
            "/hooks/crm",
            "application/json; charset=utf-8",
            f"highseas-delivery-{Delivery.objects.get().pk}",
            {
                "kind": "task_due",
                "title": "任务到期：寄送合同",
                "body": "截止时间：2026-03-10 09:00。\n星辰科技",
                "recipient": org["rep_b"].pk,
                "customer": owned.pk,
                "created_at": notification.created_at.isoformat(),
            },
        )
    ]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_failing_webhook_is_logged_and_retried_later_not_raised(
    org: dict[str, Any],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    settings.HIGHSEAS_WEBHOOK_URL = f"http://127.0.0.1:{closed_port()}/hook"
    with django_capture_on_commit_callbacks(execute=True):
        created = notify(org["rep_a"].pk, "test", "无人接收")
    assert created is not None
    moment = created.created_at
    with caplog.at_level(logging.WARNING, logger="highseas.notify"):
        assert deliver_due(moment) == {"delivered": 0, "retrying": 1, "failed": 0}
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at == moment + FIRST_RETRY
    assert "Connection refused" in delivery.last_error
    assert Notification.objects.filter(pk=created.pk).exists()
    failures = [r for r in caplog.records if r.name == "highseas.notify"]
    assert len(failures) == 1
    assert failures[0].levelno == logging.WARNING
    assert f"notification {created.pk}" in failures[0].getMessage()
