"""The departure handover (离职交接) in a real browser: a manager picks a departing rep, names a
colleague who reaches their cap, reads the preview, runs it, hands the rest back to the pool;
then schedules a handover for a date and cancels it. Every page is shot in Chinese and English
at laptop and phone width, with nothing wider than the screen."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from highseas.accounts.models import RepProfile
from highseas.customers.models import Customer, Deal, Task
from highseas.pools import reasons
from highseas.pools.followups import open_deal
from highseas.pools.models import OwnershipEvent
from highseas.routing.models import ScheduledHandover
from tests.web.pages import PHONE, fits, shooter

shoot = shooter("departures-")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _departing(world: dict[str, Any]) -> dict[str, int]:
    """rep_a: one customer with an open deal and an open task; rep_b may take only 3 more."""
    rep_a, rep_b = world["rep_a"], world["rep_b"]
    first = Customer.objects.filter(owner=rep_a, status="owned").order_by("pk").first()
    assert first is not None
    open_deal(rep_a, first.pk, amount=Decimal("38000"), name="二期扩容")
    Task.objects.create(customer=first, title="交接前回访", assignee=rep_a)
    held_b = Customer.objects.filter(owner=rep_b).count()
    RepProfile.objects.filter(user=rep_b).update(holding_cap_override=held_b + 3)
    owned = Customer.objects.filter(owner=rep_a)
    return {
        "owned": owned.count(),
        "frozen": owned.filter(status="frozen").count(),
        "deals": Deal.objects.filter(customer__in=owned, owner=rep_a)
        .exclude(stage__in=["won", "lost"])
        .count(),
        "tasks": Task.objects.filter(customer__in=owned, assignee=rep_a, done_at=None).count(),
        "held_b": held_b,
    }


def test_a_manager_hands_a_departing_reps_customers_over_as_previewed(
    world: dict[str, Any], sign_in: Any
) -> None:
    counts = _departing(world)
    rep_a, rep_b = world["rep_a"], world["rep_b"]
    manager = sign_in("mgr_east")
    manager.click("nav.topnav >> text=管理台")
    manager.click(".console-tabs >> text=离职交接")
    manager.wait_for_selector("[data-table=departing]")
    row = manager.locator(f"[data-rep='{rep_a.pk}']")
    assert str(counts["owned"]) in row.inner_text()
    shoot(manager, "01-list-zh-laptop")

    row.locator("[data-hand-over]").click()
    for fact in ("owned", "frozen", "deals", "tasks"):
        assert manager.locator(f"[data-fact={fact}]").inner_text() == str(counts[fact]), fact
    assert (counts["frozen"], counts["deals"], counts["tasks"]) >= (1, 1, 1)
    manager.check("input[name=to][value=user]")
    manager.select_option("#id_receiver", str(rep_b.pk))
    manager.click("[data-preview-departure]")
    preview = manager.locator("[data-departure-preview]")
    preview.wait_for()
    moved = int(manager.locator("[data-moved]").get_attribute("data-moved") or 0)
    assert 0 < moved < counts["owned"]
    assert f"将移交 {moved} 个客户：交给 REP_B" in preview.inner_text()
    stay = counts["owned"] - moved
    assert manager.locator("[data-problem-count]").inner_text() == str(stay)
    assert manager.locator("[data-problem=holding_cap_reached]").count() == 1
    assert manager.locator(f"[data-receiver='{rep_b.pk}'] [data-at-cap]").count() == 1
    assert Customer.objects.filter(owner=rep_a).count() == counts["owned"]  # nothing moved
    shoot(manager, "02-preview-zh-laptop")

    manager.click("[data-run-departure]")
    result = manager.locator("[data-departure-result]")
    result.wait_for()
    assert f"已移交 {moved} 个客户" in result.inner_text()
    assert manager.locator(f"[data-remaining='{stay}']").count() == 1
    assert Customer.objects.filter(owner=rep_b).count() == counts["held_b"] + moved
    assert Customer.objects.filter(owner=rep_a).count() == stay
    shoot(manager, "03-result-zh-laptop")

    manager.click("text=交接剩余客户")
    manager.check("input[name=to][value=pools]")
    manager.click("[data-preview-departure]")
    manager.locator("[data-departure-preview]").wait_for()
    manager.click("[data-run-departure]")
    manager.locator("[data-remaining='0']").wait_for()
    assert not Customer.objects.filter(owner=rep_a).exists()
    codes = set(
        OwnershipEvent.objects.filter(kind__in=["transferred", "released"]).values_list(
            "reason_code", flat=True
        )
    )
    assert reasons.HANDOVER in codes  # read as 离职交接 in Chinese
    task = Task.objects.get(title="交接前回访")
    assert task.assignee_id in (rep_b.pk, rep_a.pk)
    shoot(manager, "04-done-zh-laptop")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_the_pages_fit_and_a_handover_at_a_date_is_listed_and_cancelled(
    world: dict[str, Any], sign_in: Any, live_server: Any, language: str, size: str
) -> None:
    _departing(world)
    rep_a, rep_b = world["rep_a"], world["rep_b"]
    page = sign_in("mgr_east", **(PHONE if size == "phone" else {}))
    if language == "en":
        page.click("[data-lang=en]")
        page.wait_for_selector("html[lang=en]")
    tag = f"{'zh' if language == 'zh-hans' else 'en'}-{size}"
    page.goto(f"{live_server.url}/console/departures/")
    fits(page)
    shoot(page, f"10-list-{tag}")

    page.goto(f"{live_server.url}/console/departures/{rep_a.pk}/")
    page.check("input[name=to][value=user]")
    page.select_option("#id_receiver", str(rep_b.pk))
    page.check("input[name=when][value=at]")
    at = timezone.localtime() + timedelta(days=7)
    page.fill("#id_at", at.strftime("%Y-%m-%dT%H:%M"))
    page.click("[data-preview-departure]")
    page.locator("[data-departure-preview]").wait_for()
    fits(page)
    shoot(page, f"11-preview-at-a-date-{tag}")

    page.click("[data-run-departure]")
    listed = page.locator("[data-table=scheduled] tr[data-scheduled]")
    listed.first.wait_for()
    row = ScheduledHandover.objects.get()
    assert (row.rep, row.receiver, row.state) == (rep_a, rep_b, "scheduled")
    assert at.strftime("%Y-%m-%d %H:%M") in listed.first.inner_text()
    fits(page)
    shoot(page, f"12-scheduled-{tag}")

    page.click(f"[data-cancel='{row.pk}']")
    page.locator(f"[data-scheduled='{row.pk}'] [data-state=cancelled]").wait_for()
    row.refresh_from_db()
    assert row.state == "cancelled"
    assert Customer.objects.filter(owner=rep_a).exists()  # nothing moved


@pytest.mark.parametrize("mode", ["pause", "cover"])
def test_the_customer_page_says_what_the_leave_does_to_the_countdown(
    world: dict[str, Any], sign_in: Any, live_server: Any, mode: str
) -> None:
    from highseas.accounts.visibility import Viewer
    from highseas.pools.leave import record_leave
    from highseas.pools.models import RecyclePolicy

    rep_a, rep_b = world["rep_a"], world["rep_b"]
    RecyclePolicy.objects.filter(pool=world["east_pool"]).update(leave_mode=mode)
    today = timezone.localdate()
    record_leave(
        Viewer(world["east_manager"]),
        rep_a.pk,
        leave_from=today - timedelta(days=1),
        leave_until=today + timedelta(days=4),
        cover_id=rep_b.pk,
    )
    customer = Customer.objects.filter(owner=rep_a, status="owned").order_by("pk").first()
    assert customer is not None
    viewer = "rep_a" if mode == "pause" else "rep_b"  # the cover opens the rep's customer
    page = sign_in(viewer, **PHONE)
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    note = page.locator(f"[data-leave={mode}]")
    note.wait_for()
    until = (today + timedelta(days=4)).isoformat()
    expected = f"休假中，回收计时暂停至 {until}" if mode == "pause" else "休假中，由 REP_B 代为跟进"
    assert expected in note.inner_text()
    fits(page)
    shoot(page, f"20-customer-leave-{mode}-zh-phone")
