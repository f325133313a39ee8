"""``notifications/preferences/`` (SPEC §10, an extension): my notification settings only;
an unknown or read-only field is refused with nothing changed; errors keep their codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.notify.models import NotificationPreference

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]
URL = "/api/v1/notifications/preferences/"


def test_i_read_my_defaults_and_change_them(
    org: dict[str, Any], api: Api, settings: Settings
) -> None:
    settings.HIGHSEAS_EMAIL_NOTIFICATIONS = True
    settings.HIGHSEAS_WEBHOOK_URL = ""
    client = api(org["rep_a"])
    shown = client.get(URL).json()
    assert shown == {
        "digest_categories": ["recycle_warnings"],
        "digest_time": "08:30",
        "time_zone": "Asia/Shanghai",
        "language": "zh-hans",
        "email": True,
        "webhook": True,
        "channels": ["email"],
        "next_digest_at": None,
    }
    changed = client.patch(
        URL, {"digest_categories": ["tasks", "mentions"], "digest_time": "18:05"}, format="json"
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["digest_categories"] == ["mentions", "tasks"]
    assert body["digest_time"] == "18:05" and body["next_digest_at"] is not None
    assert NotificationPreference.objects.get(pk=org["rep_a"].pk).digest_time.minute == 5


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        ({"user": 2, "email": False}, "validation_error"),
        ({"next_digest_at": "2020-01-01T00:00:00Z"}, "validation_error"),
        ({"channels": ["webhook"]}, "validation_error"),
        ({"digest_categories": ["secret"]}, "validation_error"),
        ({"time_zone": "Mars/Olympus"}, "validation_error"),
        ({"digest_time": "25:61"}, "validation_error"),
    ],
)
def test_a_forged_or_wrong_field_is_refused_and_nothing_changes(
    org: dict[str, Any], api: Api, sent: dict[str, Any], code: str
) -> None:
    response = api(org["rep_a"]).patch(URL, sent, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not NotificationPreference.objects.exists()


def test_another_user_s_settings_are_never_shown_or_changed(org: dict[str, Any], api: Api) -> None:
    api(org["rep_b"]).patch(URL, {"language": "en"}, format="json")
    for other in ("rep_a", "east_manager", "admin"):
        assert api(org[other]).get(URL).json()["language"] == "zh-hans"
        api(org[other]).patch(URL, {"email": False}, format="json")
    row = NotificationPreference.objects.get(pk=org["rep_b"].pk)
    assert (row.language, row.email) == ("en", True)
    assert APIClient().get(URL).status_code == 401
