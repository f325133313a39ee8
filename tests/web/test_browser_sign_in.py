"""A real browser signs in, sees the workspace, and switches language."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rep_signs_in_and_switches_to_english(
    live_server: Any, page: Any, screenshot: Any, org: dict[str, Any], make_customer: Any
) -> None:
    for name in ("杭州云帆网络科技有限公司", "苏州恒达精密机械有限公司"):
        make_customer(org["rep_a"], owner=org["rep_a"], name=name, province="浙江", city="杭州")
    page.goto(f"{live_server.url}/login/")
    assert page.locator("h2").inner_text() == "登录"
    screenshot(page, "01-login-zh")

    page.fill("#id_username", "rep_a")
    page.fill("#id_password", "pw-rep_a")
    page.click("button.primary")
    page.wait_for_selector(".welcome h1")
    assert page.locator(".welcome h1").inner_text() == "您好，REP_A"
    assert page.locator('[data-stat="holdings"]').inner_text() == "2"
    assert page.locator(".table tbody tr").count() == 2
    screenshot(page, "02-home-zh")

    page.click('.topbar button[data-lang="en"]')
    page.wait_for_selector("text=Hello, REP_A")
    assert page.locator(".stat-label").first.inner_text() == "My customers"
    screenshot(page, "03-home-en")


def test_the_login_page_fits_a_phone(live_server: Any, browser: Any, screenshot: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    phone = context.new_page()
    phone.goto(f"{live_server.url}/login/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    screenshot(phone, "04-login-phone")
    context.close()


def test_a_locked_out_sign_in_says_so_and_shows_in_the_audit_console(
    live_server: Any, page: Any, sign_in: Any, screenshot: Any, org: dict[str, Any]
) -> None:
    page.goto(f"{live_server.url}/login/")
    for attempt in range(5):
        page.fill("#id_username", "rep_a")
        page.fill("#id_password", f"guess-{attempt}")
        page.click("button.primary")
        page.wait_for_selector(".alert.error")
    assert "登录失败次数过多" in page.locator(".alert.error").inner_text()
    screenshot(page, "05-login-locked")

    admin = sign_in("boss")
    admin.click("nav.topnav >> text=管理台")
    admin.click(".console-tabs >> [href='/console/audit/']")
    admin.wait_for_selector("[data-table=audit]")
    rows = admin.locator("[data-table=audit] tbody tr")
    assert rows.count() == 6  # five failures and the lockout
    assert "127.0.0.1" in rows.first.inner_text()
    assert "rep_a" in rows.first.inner_text()
    admin.select_option("#a-action", "login_locked")
    admin.click("[data-audit-filters] button.primary")
    admin.wait_for_selector("[data-table=audit]")
    assert admin.locator("[data-table=audit] tbody tr").count() == 1
    screenshot(admin, "06-audit-console")
