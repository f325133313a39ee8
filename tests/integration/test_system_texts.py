"""System texts of notifications read in the reader's language: stored as a template and its
facts (with the text as written kept for old readers), and rows written before recover
their template from either language."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from highseas.notify import texts
from highseas.notify.models import Notification
from highseas.notify.services import notify
from highseas.notify.texts import SystemText, parse

pytestmark = pytest.mark.django_db


def test_a_system_text_reads_in_each_readers_language(org: dict[str, Any]) -> None:
    notification = notify(
        org["rep_a"].pk,
        "recycle_warning",
        SystemText(texts.WILL_RECYCLE, {"customer": "杭州云帆"}),
        SystemText(texts.FOLLOW_UP_BEFORE, {"due": "2026-12-05 10:00"}),
    )
    assert notification is not None
    stored = Notification.objects.get(pk=notification.pk)
    assert stored.title == "杭州云帆 即将被回收到公海"  # as written, in the org's language
    assert stored.title_template == texts.WILL_RECYCLE
    assert stored.params["title"] == {"customer": "杭州云帆"}
    with translation.override("en"):
        assert stored.shown_title == "杭州云帆 will go back to the pool"
        assert stored.shown_body == "Follow it up before 2026-12-05 10:00 to keep it."
    with translation.override("zh-hans"):
        assert stored.shown_title == "杭州云帆 即将被回收到公海"


def test_a_users_note_stays_as_written_under_the_system_text(org: dict[str, Any]) -> None:
    notification = notify(
        org["rep_a"].pk,
        "next_contact",
        SystemText(texts.FOLLOW_UP_WITH, {"customer": "宁波港联"}),
        SystemText(texts.NEXT_CONTACT, {"when": "2026-12-05 10:00"}, "计划今天回访"),
    )
    assert notification is not None
    with translation.override("en"):
        assert notification.shown_body == "Next contact planned for 2026-12-05 10:00.\n计划今天回访"


def test_a_plain_text_reads_as_written(org: dict[str, Any]) -> None:
    notification = notify(org["rep_a"].pk, "mention", "BOSS 提到了你", "请看一下")
    assert notification is not None and notification.title_template == ""
    with translation.override("en"):
        assert (notification.shown_title, notification.shown_body) == ("BOSS 提到了你", "请看一下")


@pytest.mark.parametrize(
    ("written", "params"),
    [
        ("杭州云帆 即将被回收到公海", {"customer": "杭州云帆"}),
        ("杭州云帆 will go back to the pool", {"customer": "杭州云帆"}),
    ],
)
def test_a_stored_text_recovers_its_template_in_either_language(
    written: str, params: dict[str, str]
) -> None:
    found = parse(written)
    assert found is not None
    assert (found.template, dict(found.params)) == (texts.WILL_RECYCLE, params)


def test_text_that_no_template_wrote_is_not_parsed() -> None:
    assert parse("请跟进一下这个客户") is None


def test_the_api_keeps_title_and_body_and_adds_the_readers_text(
    org: dict[str, Any], api: Any
) -> None:
    notify(
        org["rep_a"].pk,
        "recycled",
        SystemText(texts.RECYCLED, {"count": 2}),
        "杭州云帆、宁波港联",
    )
    body = api(org["rep_a"]).get("/api/v1/notifications/", HTTP_ACCEPT_LANGUAGE="en").json()
    row = body["results"][0]
    assert row["title"] == "您有 2 个客户已被回收到公海"  # as written
    assert row["shown_title"] == "2 of your customers went back to the pool"
    assert row["shown_body"] == row["body"] == "杭州云帆、宁波港联"
    assert {"id", "kind", "customer", "created_at", "read_at", "is_read"} <= set(row)
