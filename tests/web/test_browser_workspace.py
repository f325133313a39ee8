"""The rep workspace in a real browser: filter the pool, claim, follow up, see the clock reset."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.customers.models import Customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _row(page: Any, name: str) -> Any:
    return page.locator("tbody tr", has_text=name)


def test_a_rep_claims_follows_up_and_the_countdown_resets(
    world: dict[str, Any], sign_in: Any, screenshot: Any
) -> None:
    target = world["target"]
    rep_a = sign_in("rep_a")
    screenshot(rep_a, "10-rep-home")
    rep_a.click("nav.topnav >> text=公海")
    rep_a.wait_for_selector("[data-table=pool]")
    assert rep_a.locator("h1").inner_text() == "公海 · 华东公海"
    masked_phone = _row(rep_a, target.name).locator("[data-field=phone]").inner_text()
    assert masked_phone == "138****8001"
    screenshot(rep_a, "11-pool-list")

    rep_a.select_option("#f-province", "浙江")
    rep_a.select_option("#f-industry", "软件和信息技术服务")
    rep_a.click("[data-filter]")
    rep_a.wait_for_url("**/pool/?*province=*")
    regions = rep_a.locator("[data-table=pool] tbody tr td:nth-child(2)").all_inner_texts()
    assert regions and all(region.startswith("浙江") for region in regions)
    assert _row(rep_a, target.name).count() == 1
    screenshot(rep_a, "12-pool-filtered")

    rep_b = sign_in("rep_b")
    rep_b.goto(rep_a.url)  # rep B looks at the same list before rep A claims

    _row(rep_a, target.name).locator("[data-claim]").click()
    toast = rep_a.locator(".toast.success").last
    toast.wait_for()
    assert f"已领取 {target.name}" in toast.inner_text()
    _row(rep_a, target.name).wait_for(state="detached")
    assert rep_a.locator('[data-quota="daily"]').inner_text() == "2/3"
    screenshot(rep_a, "13-claimed-toast")

    _row(rep_b, target.name).locator("[data-claim]").click()
    refusal = rep_b.locator(".toast.error").last
    refusal.wait_for()
    assert refusal.inner_text().startswith("该客户已被 REP_A 领取")
    rep_b.reload()
    rep_b.wait_for_selector("[data-table=pool]")
    assert _row(rep_b, target.name).count() == 0
    screenshot(rep_b, "14-pool-second-rep")

    rep_a.click("nav.topnav >> text=我的客户")
    row = _row(rep_a, target.name)
    assert row.locator("[data-countdown]").inner_text() == "剩 1 天 23 小时"
    # due sooner than the 3-day warning window at the claim: the warning comes half-way there,
    # not at once
    assert row.locator("[data-warned]").count() == 0
    screenshot(rep_a, "15-my-customers")

    row.locator("a", has_text=target.name).click()
    rep_a.wait_for_selector("[data-save-activity]")
    assert "领取" in rep_a.locator("[data-why]").inner_text()
    rep_a.check("input[name=kind][value=visit]")
    rep_a.fill("#id_note", "上门拜访，客户确认下月启动采购")
    rep_a.fill("#id_outcome", "进入方案阶段")
    rep_a.fill("#id_next_contact_at", "2030-01-08T10:00")
    rep_a.click("[data-save-activity]")
    rep_a.locator(".toast.success").last.wait_for()
    countdown = rep_a.locator("[data-recycle-countdown] [data-countdown]").inner_text()
    assert countdown == "剩 29 天 23 小时"
    assert rep_a.locator("[data-recycle-countdown] [data-warned]").count() == 0
    assert (
        rep_a.locator("ol.timeline li").first.inner_text().count("上门拜访，客户确认下月启动采购")
    )
    screenshot(rep_a, "16-customer-page")

    rep_a.click("nav.topnav >> text=我的客户")
    assert _row(rep_a, target.name).locator("[data-countdown]").inner_text() == countdown
    assert Customer.objects.get(pk=target.pk).owner == world["rep_a"]


def test_a_claim_over_the_daily_quota_is_refused_in_plain_words(
    world: dict[str, Any], sign_in: Any, screenshot: Any, live_server: Any
) -> None:
    rep = sign_in("rep_a")
    rep.goto(f"{live_server.url}/pool/?province=江苏")
    waiting = rep.locator("tbody tr:not(.leaving) [data-claim]")
    for claimed in range(1, 4):
        waiting.first.click()
        rep.locator(".toast.success").nth(claimed - 1).wait_for()
        rep.wait_for_function(f"document.querySelectorAll('[data-claim]').length === {4 - claimed}")
    waiting.first.click()
    refusal = rep.locator(".toast.error").last
    refusal.wait_for()
    assert refusal.inner_text().startswith("今日领取额度已用完（已领 3 / 上限 3）")
    assert rep.locator('[data-quota="daily"]').inner_text() == "0/3"
    screenshot(rep, "17-claim-refused")


def test_the_language_switches_between_chinese_and_english(
    world: dict[str, Any], sign_in: Any, screenshot: Any
) -> None:
    rep = sign_in("rep_a")
    rep.click("nav.topnav >> text=我的客户")
    assert rep.locator("h1").inner_text() == "我的客户"
    rep.click('.topbar button[data-lang="en"]')
    rep.wait_for_selector("text=Back to the pool in")
    assert rep.locator("h1").inner_text() == "My customers"
    assert rep.locator("nav.topnav a").nth(1).inner_text() == "Public pool"
    assert rep.locator("[data-countdown]").first.inner_text().endswith("left")
    screenshot(rep, "30-my-customers-en")
    rep.click('.topbar button[data-lang="zh-hans"]')
    rep.wait_for_selector("text=回收倒计时")
    assert rep.locator("h1").inner_text() == "我的客户"


def test_the_workspace_fits_a_phone(
    world: dict[str, Any], sign_in: Any, screenshot: Any, live_server: Any
) -> None:
    phone = sign_in("rep_a", width=390, height=844)
    pages = [
        ("40-phone-pool", "/pool/"),
        ("41-phone-customer", f"/customers/{world['held_a'][0].pk}/"),
        ("42-phone-my-customers", "/mine/"),
    ]
    for name, path in pages:
        phone.goto(live_server.url + path)
        phone.wait_for_load_state()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, name
        screenshot(phone, name)
