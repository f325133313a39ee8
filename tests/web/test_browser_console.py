"""The manager console in a real browser: dashboard, policy preview then save, approvals."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.customers.models import Customer
from highseas.pools.models import ClaimRequest, RecyclePolicy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_changes_a_recycle_policy_after_seeing_its_preview(
    world: dict[str, Any], sign_in: Any, screenshot: Any
) -> None:
    manager = sign_in("mgr_east")
    manager.click("nav.topnav >> text=管理台")
    manager.wait_for_selector("svg.chart polyline")
    held = Customer.objects.filter(
        owner__in=[world["rep_a"], world["rep_b"]], status__in=["owned", "frozen"]
    ).count()
    assert manager.locator("[data-kpi=held]").inner_text() == str(held)
    screenshot(manager, "20-console-dashboard")

    manager.click(".console-tabs >> text=公海规则")
    screenshot(manager, "21-pool-policies")
    manager.click(f"[data-edit-pool='{world['east_pool'].pk}']")
    manager.fill("#id_idle_days", "10")
    manager.click("[data-preview-button]")
    preview = manager.locator("[data-preview]")
    preview.wait_for()
    count = manager.locator("[data-preview-count]").get_attribute("data-preview-count")
    assert int(count or 0) >= 3
    assert "按现行规则为" in preview.inner_text()
    assert manager.locator("[data-table=preview] tbody tr", has_text="宁波港联物流有限公司").count()
    assert RecyclePolicy.objects.get(pool=world["east_pool"]).idle_days == 30
    screenshot(manager, "22-policy-preview")

    manager.click("[data-confirm-save]")
    saved = manager.locator(".toast.success").last
    saved.wait_for()
    assert "华东公海 的规则已保存" in saved.inner_text()
    assert RecyclePolicy.objects.get(pool=world["east_pool"]).idle_days == 10
    idle = manager.locator(f"[data-pool='{world['east_pool'].pk}'] [data-rule=idle_days]")
    assert " ".join((idle.text_content() or "").split()) == "闲置 10 天"
    screenshot(manager, "23-policy-saved")


def test_a_manager_approves_a_claim_and_previews_a_sweep(
    world: dict[str, Any], sign_in: Any, screenshot: Any
) -> None:
    manager = sign_in("mgr_east")
    manager.click("nav.topnav >> text=管理台")
    manager.click(".console-tabs >> text=团队客户")
    manager.wait_for_selector("[data-table=team]")
    screenshot(manager, "24-team-customers")

    manager.click(".console-tabs >> text=领取审批")
    row = manager.locator(f"[data-request='{world['request'].pk}']")
    assert "老客户转介绍" in row.inner_text()
    screenshot(manager, "25-claim-approvals")
    row.locator("input[name=note]").fill("同意，本周内拜访")
    row.locator("[data-approve]").click()
    manager.locator(".toast.success").last.wait_for()
    row.wait_for(state="detached")
    assert ClaimRequest.objects.get(pk=world["request"].pk).state == "approved"

    manager.click(".console-tabs >> text=回收预演")
    manager.click(".quick-picks >> text=3 天后")
    manager.wait_for_selector("[data-table=sweep]")
    recycled = int(manager.locator("[data-sweep=recycled]").inner_text())
    assert recycled >= 3
    screenshot(manager, "26-sweep-preview")


def test_the_console_fits_a_phone(world: dict[str, Any], sign_in: Any, screenshot: Any) -> None:
    phone = sign_in("mgr_east", width=390, height=844)
    phone.click("nav.topnav >> text=管理台")
    phone.wait_for_selector("svg.chart >> visible=true")  # the phone drawing of each chart
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "43-phone-console-dashboard")
