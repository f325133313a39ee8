"""通知设置 and the grouped inbox: a user sets their own notification preferences (and only
their own), and a day's many notifications of one category read as one line that opens."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from pytest_django.fixtures import Settings

from highseas.notify import texts
from highseas.notify.models import Notification, NotificationPreference
from highseas.notify.services import notify
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db

FORM = {
    "mode_recycle_warnings": "digest",
    "mode_assignments": "immediate",
    "mode_mentions": "immediate",
    "mode_tasks": "digest",
    "mode_claim_requests": "immediate",
    "mode_system": "digest",
    "digest_time": "07:45",
    "time_zone": "Asia/Tokyo",
    "language": "en",
    "email": "on",
}


def english(user: Any) -> Client:
    client = signed_in(user)
    client.cookies["django_language"] = "en"
    return client


def test_the_settings_page_shows_the_defaults_in_both_languages(
    org: dict[str, Any], settings: Settings
) -> None:
    settings.HIGHSEAS_EMAIL_NOTIFICATIONS = True
    settings.HIGHSEAS_WEBHOOK_URL = ""
    page = html(signed_in(org["rep_a"]).get("/settings/notifications/"))
    assert "通知设置" in page and "回收提醒" in page and "每日摘要" in page
    assert re.search(r'name="mode_recycle_warnings" value="digest"[^>]*checked', page)
    assert re.search(r'name="mode_mentions" value="immediate"[^>]*checked', page)
    assert 'value="08:30"' in page and 'name="email"' in page and 'name="webhook"' not in page
    page = html(english(org["rep_a"]).get("/settings/notifications/"))
    assert "Notification settings" in page and "Recycle warnings" in page
    assert "通知设置" not in page
    home = html(signed_in(org["rep_a"]).get("/"))
    assert 'href="/settings/notifications/"' in home  # reachable from the user's corner


def test_a_user_saves_their_preferences_and_forged_fields_are_ignored(
    org: dict[str, Any], settings: Settings
) -> None:
    settings.HIGHSEAS_EMAIL_NOTIFICATIONS = True
    rep, other = org["rep_a"], org["rep_b"]
    forged = {
        **FORM,
        "user": str(other.pk),
        "user_id": str(other.pk),
        "last_digest_at": "2020-01-01T00:00:00Z",
        "next_digest_at": "2020-01-01T00:00:00Z",
        "webhook": "on",  # no webhook in this deployment: not a field of the form
        "mode_secret": "digest",
    }
    response = signed_in(rep).post("/settings/notifications/", forged)
    assert response.status_code == 302
    row = NotificationPreference.objects.get(pk=rep.pk)
    assert row.digest_categories == ["recycle_warnings", "tasks", "system"]
    assert (row.digest_time, row.time_zone, row.language, row.email, row.webhook) == (
        time(7, 45),
        "Asia/Tokyo",
        "en",
        True,
        True,
    )
    assert row.last_digest_at is None
    assert row.next_digest_at is not None and row.next_digest_at.year > 2020
    assert not NotificationPreference.objects.filter(pk=other.pk).exists()
    # the page shows what was saved
    page = html(signed_in(rep).get("/settings/notifications/"))
    assert 'value="07:45"' in page and '<option value="Asia/Tokyo" selected>' in page


def test_an_invalid_choice_is_refused_and_nothing_is_saved(org: dict[str, Any]) -> None:
    bad = {**FORM, "time_zone": "Mars/Olympus", "mode_tasks": "weekly"}
    response = signed_in(org["rep_a"]).post("/settings/notifications/", bad)
    assert response.status_code == 200
    assert not NotificationPreference.objects.filter(pk=org["rep_a"].pk).exists()


def test_signed_out_nobody_sees_or_changes_the_settings(org: dict[str, Any]) -> None:
    client = Client()
    assert client.get("/settings/notifications/").status_code == 302
    assert client.post("/settings/notifications/", FORM).status_code == 302
    assert not NotificationPreference.objects.exists()


def test_a_day_s_many_recycle_warnings_read_as_one_line_that_opens(
    org: dict[str, Any],
) -> None:
    rep = org["rep_a"]
    warned = [
        notify(
            rep.pk,
            "recycle_warning",
            texts.SystemText(texts.WILL_RECYCLE, {"customer": f"客户{i}"}),
        )
        for i in range(12)
    ]
    notify(rep.pk, "mention", "老王提到了你")
    notify(rep.pk, "task_assigned", "新任务一")
    notify(rep.pk, "task_assigned", "新任务二")
    page = html(signed_in(rep).get("/notifications/"))
    assert page.count('data-group="recycle_warnings"') == 1
    group = page.split('data-group="recycle_warnings"')[1].split("</details>")[0]
    assert "12 条回收提醒" in group and "12 条未读" in group
    assert all(f'data-notification="{n.pk}"' in group for n in warned if n)
    assert 'data-group="tasks"' not in page  # two of a kind stay as they are
    assert "老王提到了你" in page.split('data-group="recycle_warnings"')[0]  # newest first
    with translation.override("en"):
        page = html(english(rep).get("/notifications/"))
    assert "12 recycle warnings" in page and "12 unread" in page


def test_a_group_is_marked_read_at_once_and_another_user_s_ids_change_nothing(
    org: dict[str, Any],
) -> None:
    rep, other = org["rep_a"], org["rep_b"]
    mine = [notify(rep.pk, "recycle_warning", f"提醒{i}") for i in range(4)]
    theirs = notify(other.pk, "recycle_warning", "别人的提醒")
    assert theirs is not None and all(mine)
    page = html(signed_in(rep).get("/notifications/"))
    group = page.split('data-group="recycle_warnings"')[1].split("</details>")[0]
    assert "data-mark-group-read" in group
    ids = [str(n.pk) for n in mine if n] + [str(theirs.pk)]
    response = signed_in(rep).post("/notifications/read-group/", {"ids": ids, "next": "/x"})
    assert response.status_code == 302
    assert Notification.objects.filter(recipient=rep, read_at__isnull=True).count() == 0
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    page = html(signed_in(rep).get("/notifications/"))
    group = page.split('data-group="recycle_warnings"')[1].split("</details>")[0]
    assert "data-mark-group-read" not in group and "未读" not in group
    assert Client().post("/notifications/read-group/", {"ids": ids}).status_code == 302
