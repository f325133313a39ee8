"""通知设置 and the grouped inbox in a real browser, in both languages, on a laptop and a phone:
the rep moves tasks into the digest and saves; a day of many recycle warnings reads as one
line that opens onto them; the daily digest arrives as one inbox entry."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.notify import texts
from highseas.notify.digest import send_due_digests
from highseas.notify.models import Notification, NotificationPreference
from highseas.notify.services import notify
from tests.web.pages import PHONE, fits, shooter

shoot = shooter("digest-")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _inbox(world: dict[str, Any]) -> None:
    rep = world["rep_a"]
    customers = world["held_a"]
    for index in range(12):
        customer = customers[index % len(customers)]
        notify(
            rep.pk,
            "recycle_warning",
            texts.SystemText(texts.WILL_RECYCLE, {"customer": f"{customer.name}·{index}"}),
            texts.SystemText(texts.FOLLOW_UP_BEFORE, {"due": "2026-12-04 18:00"}),
            customer_id=customer.pk,
        )
    notify(rep.pk, "mention", "MGR_EAST 在客户上提到了你", "请今天回电", customers[0].pk)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_settings_and_the_grouped_inbox(
    world: dict[str, Any], sign_in: Any, live_server: Any, language: str, size: str
) -> None:
    _inbox(world)
    rep = world["rep_a"]
    page = sign_in("rep_a", **(PHONE if size == "phone" else {}))
    if language == "en":
        page.click("[data-lang=en]")
        page.wait_for_selector("html[lang=en]")
    tag = f"{'zh' if language == 'zh-hans' else 'en'}-{size}"

    page.goto(f"{live_server.url}/notifications/")
    group = page.locator('[data-group="recycle_warnings"]')
    warned = Notification.objects.filter(recipient=rep, kind="recycle_warning").count()
    assert warned >= 12
    label = f"{warned} 条回收提醒" if language == "zh-hans" else f"{warned} recycle warnings"
    assert label in group.locator("summary").inner_text()
    assert not group.locator("[data-notification]").first.is_visible()
    fits(page)
    shoot(page, f"10-inbox-grouped-{tag}")
    group.locator("summary").click()
    group.locator("[data-notification]").first.wait_for()
    assert group.locator("[data-notification]").count() == warned
    fits(page)
    shoot(page, f"11-inbox-group-open-{tag}")

    page.click("[data-notification-settings]")
    page.wait_for_selector("[data-notification-settings-form]")
    assert page.is_checked("input[name=mode_recycle_warnings][value=digest]")
    assert page.is_checked("input[name=mode_mentions][value=immediate]")
    page.check("input[name=mode_tasks][value=digest]")
    page.fill("input[name=digest_time]", "09:15")
    fits(page)
    shoot(page, f"20-settings-{tag}")
    page.click("[data-save-notification-settings]")
    page.locator(".toast.success").last.wait_for()
    row = NotificationPreference.objects.get(pk=rep.pk)
    assert row.digest_categories == ["recycle_warnings", "tasks"]
    assert row.digest_time.strftime("%H:%M") == "09:15"

    assert row.next_digest_at is not None
    send_due_digests(row.next_digest_at)
    page.goto(f"{live_server.url}/notifications/")
    first = page.locator("[data-notification]").first
    digest_title = "每日摘要" if language == "zh-hans" else "Daily digest for"
    assert digest_title in first.inner_text()
    recycle = "位客户" if language == "zh-hans" else "customers will go back to the pool"
    assert recycle in first.inner_text()
    fits(page)
    shoot(page, f"30-inbox-digest-{tag}")

    group = page.locator('[data-group="recycle_warnings"]')
    group.locator("summary").click()
    group.locator("[data-mark-group-read] button").click()
    page.locator(".toast.success").last.wait_for()
    assert not Notification.objects.filter(
        recipient=rep, kind="recycle_warning", read_at__isnull=True
    ).exists()
    assert page.locator('[data-group="recycle_warnings"].unread').count() == 0
    fits(page)
    shoot(page, f"40-inbox-group-read-{tag}")
