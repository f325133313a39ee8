"""The daily digest and the notification preferences (``notify.digest``,
``notify.preferences``): who may change them, what the outbox holds back, what one digest
says, and that a user gets one a day in their own time zone, however many workers run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone, translation

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.notify import texts
from highseas.notify.digest import send_due_digests
from highseas.notify.models import Delivery, Notification, NotificationPreference
from highseas.notify.outbox import deliver_due
from highseas.notify.preferences import next_digest_at, preferences_of, save_preferences
from highseas.notify.services import notify
from highseas.pools.scheduler import run_periodic_jobs

pytestmark = pytest.mark.django_db


def warn(user: User, customer: Customer, due: datetime) -> Notification | None:
    """A recycle warning as the sweep writes it."""
    return notify(
        user.pk,
        "recycle_warning",
        texts.SystemText(texts.WILL_RECYCLE, {"customer": customer.name}),
        texts.SystemText(
            texts.FOLLOW_UP_BEFORE,
            {"due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M")},
        ),
        customer_id=customer.pk,
    )


def row_of(user: User) -> NotificationPreference:
    return NotificationPreference.objects.get(pk=user.pk)


def digests_of(user: User) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind="digest").order_by("pk"))


# --- preferences: who may change them -------------------------------------------------------


def test_a_user_saves_their_own_preferences_and_the_next_digest_follows(
    org: dict[str, Any],
) -> None:
    rep = org["rep_a"]
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert preferences_of(Viewer(rep)).digest_categories == {"recycle_warnings"}
    save_preferences(
        Viewer(rep),
        rep.pk,
        {"digest_categories": ["mentions", "recycle_warnings"], "digest_time": time(18, 0)},
        now,
    )
    row = row_of(rep)
    assert row.digest_categories == ["recycle_warnings", "mentions"]  # in the digest's order
    assert row.next_digest_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 18:00 Shanghai


def test_nobody_changes_another_user_s_preferences_not_even_an_admin(
    org: dict[str, Any],
) -> None:
    now = timezone.now()
    save_preferences(Viewer(org["rep_b"]), org["rep_b"].pk, {"email": True}, now)
    before = row_of(org["rep_b"]).__dict__.copy()
    for intruder in ("rep_a", "east_manager", "admin"):
        with pytest.raises(HighSeasError) as refused:
            save_preferences(Viewer(org[intruder]), org["rep_b"].pk, {"email": False}, now)
        assert refused.value.code.value == "permission_denied"
    after = row_of(org["rep_b"]).__dict__
    assert {k: v for k, v in after.items() if k != "_state"} == {
        k: v for k, v in before.items() if k != "_state"
    }
    assert not NotificationPreference.objects.filter(pk=org["rep_a"].pk).exists()


@pytest.mark.parametrize(
    "forged",
    [
        {"last_digest_at": "2020-01-01T00:00:00Z"},
        {"next_digest_at": "2020-01-01T00:00:00Z"},
        {"user": 1},
        {"digest_categories": ["recycle_warnings", "secret"]},
        {"time_zone": "Mars/Olympus"},
        {"language": "fr"},
        {"email": "yes"},
        {"digest_time": "25:00"},
    ],
)
def test_a_forged_field_is_refused_and_changes_nothing(
    org: dict[str, Any], forged: dict[str, Any]
) -> None:
    rep = org["rep_a"]
    with pytest.raises(HighSeasError) as refused:
        save_preferences(Viewer(rep), rep.pk, {"email": False, **forged}, timezone.now())
    assert refused.value.code.value == "validation_error"
    assert not NotificationPreference.objects.filter(pk=rep.pk).exists()


# --- the outbox holds back what waits for the digest -----------------------------------------


def test_digest_kinds_reach_the_inbox_unread_with_no_e_mail_and_immediate_kinds_go_at_once(
    org: dict[str, Any], emailing: None, make_customer: Callable[..., Customer]
) -> None:
    rep = org["rep_a"]
    customer = make_customer(org["admin"], owner=rep)
    warning = warn(rep, customer, timezone.now() + timedelta(days=2))
    mention = notify(rep.pk, "mention", "老王在客户上提到了你", customer_id=customer.pk)
    task = notify(rep.pk, "task_assigned", "新任务：回访")
    assert warning is not None and mention is not None and task is not None
    assert Notification.objects.get(pk=warning.pk).read_at is None
    assert set(Delivery.objects.values_list("notification_id", flat=True)) == {
        mention.pk,
        task.pk,
    }
    assert deliver_due() == {"delivered": 2, "retrying": 0, "failed": 0}
    assert sorted(m.subject for m in mail.outbox) == ["新任务：回访", "老王在客户上提到了你"]


def test_a_user_who_turns_e_mail_off_gets_none_and_a_digest_category_made_immediate_is_sent(
    org: dict[str, Any], emailing: None, make_customer: Callable[..., Customer]
) -> None:
    rep_a, rep_b = org["rep_a"], org["rep_b"]
    now = timezone.now()
    save_preferences(Viewer(rep_a), rep_a.pk, {"email": False}, now)
    save_preferences(Viewer(rep_b), rep_b.pk, {"digest_categories": []}, now)
    customer = make_customer(org["admin"], owner=rep_b)
    notify(rep_a.pk, "mention", "提到你")
    held_no_more = warn(rep_b, customer, now + timedelta(days=1))
    assert held_no_more is not None
    assert list(Delivery.objects.values_list("notification_id", "target")) == [
        (held_no_more.pk, "rep_b@example.com")
    ]


# --- the digest ----------------------------------------------------------------------------


@pytest.fixture
def seeded(
    org: dict[str, Any], emailing: None, make_customer: Callable[..., Customer]
) -> dict[str, Any]:
    """rep_a takes recycle warnings and tasks in the digest at 08:30 Shanghai: three customers
    warned (one of them twice), two task reminders, and a mention that came at once."""
    rep = org["rep_a"]
    now = timezone.now()
    save_preferences(Viewer(rep), rep.pk, {"digest_categories": ["recycle_warnings", "tasks"]}, now)
    due = row_of(rep).next_digest_at
    assert due is not None
    names = ["甲方科技有限公司", "乙方贸易有限公司", "丙方制造有限公司"]
    customers = [make_customer(org["admin"], owner=rep, name=name) for name in names]
    for days, customer in zip((1, 3, 2), customers, strict=True):
        warn(rep, customer, due + timedelta(days=days, hours=-1))
    warn(rep, customers[0], due + timedelta(hours=20))  # the same customer again
    for customer in customers[:2]:
        notify(
            rep.pk,
            "task_due",
            texts.SystemText(texts.TASK_DUE, {"task": "回访"}),
            customer_id=customer.pk,
        )
    notify(rep.pk, "mention", "提到你", customer_id=customers[2].pk)
    notify(org["rep_b"].pk, "recycle_warning", "别人的提醒")
    mail.outbox.clear()
    Delivery.objects.all().delete()
    return {"rep": rep, "rep_b": org["rep_b"], "due": due, "customers": customers}


ZH_BODY = (
    "3 位客户 3 天内将被回收：甲方科技有限公司、乙方贸易有限公司、丙方制造有限公司\n"
    "2 条任务与提醒：甲方科技有限公司、乙方贸易有限公司"
)
EN_BODY = (
    "3 customers will go back to the pool within 3 days: "
    "甲方科技有限公司, 乙方贸易有限公司, 丙方制造有限公司\n"
    "2 task notices and reminders: 甲方科技有限公司, 乙方贸易有限公司"
)


def test_the_digest_groups_the_day_by_category_with_counts_and_items_in_both_languages(
    seeded: dict[str, Any],
) -> None:
    rep, due = seeded["rep"], seeded["due"]
    assert send_due_digests(due - timedelta(minutes=1))["sent"] == 0
    figures = send_due_digests(due)
    assert (figures["sent"], figures["taken"]) == (2, 0)  # rep_a's, and rep_b's own
    (digest,) = digests_of(rep)
    (other,) = digests_of(seeded["rep_b"])
    with translation.override("zh-hans"):
        assert other.shown_body == "1 位客户即将被回收：别人的提醒"
    day = timezone.localtime(due).date().isoformat()
    with translation.override("zh-hans"):
        assert (digest.shown_title, digest.shown_body) == (f"{day} 每日摘要", ZH_BODY)
    with translation.override("en"):
        assert (digest.shown_title, digest.shown_body) == (f"Daily digest for {day}", EN_BODY)
    assert digest.read_at is None and digest.dedupe_key == f"digest:{rep.pk}:{day}"
    # one e-mail each, for the digest, in the user's language
    assert set(Delivery.objects.values_list("notification_id", "target")) == {
        (digest.pk, "rep_a@example.com"),
        (other.pk, "rep_b@example.com"),
    }
    assert deliver_due()["delivered"] == 2
    assert [(m.subject, m.body) for m in mail.outbox if m.to == ["rep_a@example.com"]] == [
        (f"{day} 每日摘要", ZH_BODY)
    ]


def test_the_digest_e_mail_reads_in_the_language_the_user_chose(seeded: dict[str, Any]) -> None:
    rep, due = seeded["rep"], seeded["due"]
    save_preferences(Viewer(rep), rep.pk, {"language": "en"}, due - timedelta(hours=1))
    send_due_digests(due)
    deliver_due()
    day = timezone.localtime(due).date().isoformat()
    assert [(m.subject, m.body) for m in mail.outbox if m.to == ["rep_a@example.com"]] == [
        (f"Daily digest for {day}", EN_BODY)
    ]


def test_one_digest_a_day_and_the_next_one_holds_only_what_came_since(
    seeded: dict[str, Any], make_customer: Callable[..., Customer], org: dict[str, Any]
) -> None:
    rep, due = seeded["rep"], seeded["due"]
    assert send_due_digests(due + timedelta(minutes=5))["sent"] == 1  # rep_b has no row yet
    for later in (6, 60, 600):  # the same day, again and again: nothing more
        assert send_due_digests(due + timedelta(minutes=later)) == {
            "sent": 0,
            "empty": 0,
            "taken": 0,
        }
    assert row_of(rep).next_digest_at == due + timedelta(days=1)
    late = make_customer(org["admin"], owner=rep, name="丁方物流有限公司")
    Notification.objects.filter(recipient=rep).update(created_at=due - timedelta(hours=1))
    warn(rep, late, due + timedelta(days=1, hours=12))
    Notification.objects.filter(recipient=rep, customer=late).update(
        created_at=due + timedelta(hours=3)
    )
    assert send_due_digests(due + timedelta(days=1))["sent"] == 1
    second = digests_of(rep)[1]
    with translation.override("zh-hans"):
        assert second.shown_body == "1 位客户 1 天内将被回收：丁方物流有限公司"


def test_with_nothing_gathered_the_turn_passes_and_nothing_is_written(
    org: dict[str, Any],
) -> None:
    rep = org["rep_c"]
    now = timezone.now()
    save_preferences(Viewer(rep), rep.pk, {"digest_time": time(8, 30)}, now)
    due = row_of(rep).next_digest_at
    assert due is not None
    notify(rep.pk, "mention", "立即送达的提及")  # not a digest kind
    figures = send_due_digests(due)
    assert figures["sent"] == 0 and figures["empty"] >= 1
    assert digests_of(rep) == []
    assert row_of(rep).next_digest_at == due + timedelta(days=1)


def test_the_scheduler_s_jobs_send_the_digest_and_every_active_user_gets_a_row(
    seeded: dict[str, Any], org: dict[str, Any]
) -> None:
    org["rep_c"].is_active = False
    org["rep_c"].save(update_fields=["is_active"])
    figures = run_periodic_jobs(seeded["due"])
    assert figures["failed"] == [] and figures["digests"]["sent"] == 1  # rep_b: no row yet
    assert figures["deliveries"]["delivered"] == 1
    active = set(User.objects.filter(is_active=True).values_list("pk", flat=True))
    assert set(NotificationPreference.objects.values_list("pk", flat=True)) == active


# --- time zones ----------------------------------------------------------------------------


def test_the_digest_hour_is_the_user_s_local_time_and_its_day_the_local_day(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    rep = org["rep_a"]
    # 07:00 in Shanghai is 23:00 UTC of the day before
    set_at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    save_preferences(Viewer(rep), rep.pk, {"digest_time": time(7, 0)}, set_at)
    assert row_of(rep).next_digest_at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    customer = make_customer(org["admin"], owner=rep)
    warning = warn(rep, customer, set_at + timedelta(days=2))
    assert warning is not None
    Notification.objects.filter(pk=warning.pk).update(created_at=set_at + timedelta(hours=1))
    assert send_due_digests(datetime(2026, 12, 1, 22, 59, tzinfo=UTC))["sent"] == 0
    assert send_due_digests(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))["sent"] == 1
    (digest,) = digests_of(rep)
    assert digest.dedupe_key == f"digest:{rep.pk}:2026-12-02"  # Shanghai's day, not UTC's
    assert row_of(rep).next_digest_at == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    # a user in London at 08:30 is told at 08:30 London time (UTC in winter)
    save_preferences(
        Viewer(rep), rep.pk, {"time_zone": "Europe/London", "digest_time": time(8, 30)}, set_at
    )
    assert row_of(rep).next_digest_at == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)


def test_moving_the_digest_later_on_a_day_whose_digest_was_sent_waits_for_tomorrow(
    seeded: dict[str, Any],
) -> None:
    rep, due = seeded["rep"], seeded["due"]
    send_due_digests(due)
    save_preferences(Viewer(rep), rep.pk, {"digest_time": time(23, 0)}, due + timedelta(hours=1))
    local = timezone.localtime(due)
    tomorrow_23 = timezone.make_aware(
        datetime.combine(local.date() + timedelta(days=1), time(23, 0))
    )
    assert row_of(rep).next_digest_at == tomorrow_23


def test_next_digest_at_across_a_daylight_saving_change() -> None:
    # New York leaves daylight saving on 2026-11-01: 08:30 is 12:30 UTC before, 13:30 after
    before = datetime(2026, 10, 31, 13, 0, tzinfo=UTC)
    assert next_digest_at(before, time(8, 30), "America/New_York") == datetime(
        2026, 11, 1, 13, 30, tzinfo=UTC
    )
    assert next_digest_at(before - timedelta(hours=1), time(8, 30), "America/New_York") == (
        datetime(2026, 10, 31, 12, 30, tzinfo=UTC)
    )
