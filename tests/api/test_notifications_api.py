"""The notifications endpoints (SPEC §10): my inbox only, unread filter, read, read-all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.notify.models import Notification
from highseas.notify.services import notify

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


def note(user: User, title: str, *, read: bool = False) -> Notification:
    created = notify(user.pk, "test", title)
    assert created is not None
    if read:
        Notification.objects.filter(pk=created.pk).update(read_at=timezone.now())
    return created


def titles(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


def test_the_inbox_lists_only_my_notifications_newest_first(org: dict[str, Any], api: Api) -> None:
    note(org["rep_a"], "一")
    note(org["rep_b"], "别人的")
    note(org["rep_a"], "二", read=True)
    response = api(org["rep_a"]).get("/api/v1/notifications/")
    assert titles(response) == ["二", "一"]
    first = response.json()["results"][0]
    assert set(first) == {
        "id",
        "kind",
        "title",
        "body",
        "customer",
        "created_at",
        "read_at",
        "is_read",
        "shown_title",
        "shown_body",
        "title_template",
        "params",
    }
    assert first["is_read"] is True


def test_the_inbox_pages_with_a_cursor(org: dict[str, Any], api: Api) -> None:
    for n in range(3):
        note(org["rep_a"], f"第{n}条")
    client = api(org["rep_a"])
    page = client.get("/api/v1/notifications/", {"page_size": 2}).json()
    assert [row["title"] for row in page["results"]] == ["第2条", "第1条"]
    assert titles(client.get(page["next"])) == ["第0条"]


def test_the_unread_filter(org: dict[str, Any], api: Api) -> None:
    note(org["rep_a"], "未读")
    note(org["rep_a"], "已读", read=True)
    client = api(org["rep_a"])
    assert titles(client.get("/api/v1/notifications/", {"unread": "1"})) == ["未读"]
    assert titles(client.get("/api/v1/notifications/", {"unread": "0"})) == ["已读"]
    refused = client.get("/api/v1/notifications/", {"unread": "maybe"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "validation_error"


def test_reading_one_marks_only_that_one(org: dict[str, Any], api: Api) -> None:
    target = note(org["rep_a"], "读这条")
    other = note(org["rep_a"], "不读")
    response = api(org["rep_a"]).post(f"/api/v1/notifications/{target.pk}/read/")
    assert response.status_code == 200, response.content
    assert (response.json()["id"], response.json()["is_read"]) == (target.pk, True)
    target.refresh_from_db()
    other.refresh_from_db()
    assert target.read_at is not None
    assert other.read_at is None


def test_reading_again_keeps_the_first_read_time(org: dict[str, Any], api: Api) -> None:
    target = note(org["rep_a"], "读过", read=True)
    first_read = Notification.objects.get(pk=target.pk).read_at
    response = api(org["rep_a"]).post(f"/api/v1/notifications/{target.pk}/read/")
    assert response.status_code == 200
    assert Notification.objects.get(pk=target.pk).read_at == first_read


def test_someone_elses_notification_is_not_found_and_stays_unread(
    org: dict[str, Any], api: Api
) -> None:
    theirs = note(org["rep_b"], "别人的")
    for user in ("rep_a", "east_manager", "admin"):
        response = api(org[user]).post(f"/api/v1/notifications/{theirs.pk}/read/")
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "detail": "通知不存在。"}
    assert Notification.objects.get(pk=theirs.pk).read_at is None


@pytest.mark.parametrize("raw", ["abc", "99999999999999999999999"])
def test_an_id_that_is_no_notification_is_not_found(
    org: dict[str, Any], api: Api, raw: str
) -> None:
    response = api(org["rep_a"]).post(f"/api/v1/notifications/{raw}/read/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_read_all_marks_all_of_mine_and_counts_them(org: dict[str, Any], api: Api) -> None:
    note(org["rep_a"], "一")
    note(org["rep_a"], "二")
    note(org["rep_a"], "早已读", read=True)
    theirs = note(org["rep_b"], "别人的")
    client = api(org["rep_a"])
    response = client.post("/api/v1/notifications/read-all/")
    assert response.status_code == 200, response.content
    assert response.json() == {"marked_read": 2}
    assert titles(client.get("/api/v1/notifications/", {"unread": "1"})) == []
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked_read": 0}


def test_the_inbox_needs_a_signed_in_user(api: Callable[[User | None], APIClient]) -> None:
    response = api(None).get("/api/v1/notifications/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
