"""The inbox groups notifications under the day they arrived, today first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.notify.models import Notification
from highseas.notify.services import notify
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db


def test_notifications_are_grouped_by_day_newest_first(org: dict[str, Any]) -> None:
    old = notify(org["rep_a"].pk, "test", "三天前的通知")
    yesterday = notify(org["rep_a"].pk, "test", "昨天的通知")
    today = [notify(org["rep_a"].pk, "test", f"今天的通知{i}") for i in range(2)]
    notify(org["rep_b"].pk, "test", "别人的通知")
    now = timezone.now()
    assert old is not None and yesterday is not None
    Notification.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    Notification.objects.filter(pk=yesterday.pk).update(created_at=now - timedelta(days=1))
    page = html(signed_in(org["rep_a"]).get("/notifications/"))
    days = [chunk.split('"')[0] for chunk in page.split('data-day="')[1:]]
    local = timezone.localdate(now)
    assert days == [
        local.isoformat(),
        (local - timedelta(days=1)).isoformat(),
        (local - timedelta(days=3)).isoformat(),
    ]
    first_day = page.split('data-day="')[1].split('data-day="')[0]
    assert "今天" in first_day and "2 条通知" in first_day
    assert all(f'data-notification="{n.pk}"' in first_day for n in today if n)
    assert "昨天" in page.split('data-day="')[2]
    assert "别人的通知" not in page
