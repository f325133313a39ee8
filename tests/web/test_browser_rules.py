"""Assignment rules in a real browser: a manager builds a rule with the condition builder,
previews it, saves it, and the next new customer follows it; the run history explains it.
Every page of the editor is shot in Chinese and English, at laptop and phone width."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.customers.models import Customer
from highseas.intake import creation as intake
from highseas.routing.models import AssignmentRule, AssignmentRun
from tests.web.pages import PHONE, shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_builds_previews_and_saves_a_rule_and_a_new_customer_follows_it(
    world: dict[str, Any], sign_in: Any
) -> None:
    east = world["east_pool"]
    manager = sign_in("mgr_east")
    manager.click("nav.topnav >> text=管理台")
    manager.click(".console-tabs >> text=分配规则")
    manager.wait_for_selector(f"[data-rule-pool='{east.pk}'] [data-no-rules]")
    shoot(manager, "rules-01-list-empty")

    manager.click(f"[data-new-rule='{east.pk}']")
    manager.fill("#id_name", "杭州客户给 REP_B")
    manager.select_option("select[name=g0-r0-field]", "city")
    manager.select_option("select[name=g0-r0-op]", "eq")
    manager.fill("input[name=g0-r0-value]", "杭州")
    manager.click("[data-add-row='0']")  # a form post: the page comes back with a new row
    manager.select_option("select[name=g0-r1-field]", "level")
    manager.select_option("select[name=g0-r1-op]", "in")
    manager.fill("input[name=g0-r1-value]", "A, B")
    assert manager.input_value("input[name=g0-r0-value]") == "杭州"
    manager.check("input[name=target_kind][value=user]")
    assert not manager.locator("#id_target_team").is_visible()  # the small script hides it
    manager.select_option("#id_target_user", str(world["rep_b"].pk))
    manager.click("[data-preview-button]")

    preview = manager.locator("[data-preview]")
    preview.wait_for()
    rows = manager.locator("[data-table=rule-preview] tbody tr")
    assert rows.count() == 2  # 杭州云帆 (A) and 杭州数联 (B), both pooled in 华东公海
    assert "杭州云帆网络科技有限公司" in rows.all_inner_texts()[0] + rows.all_inner_texts()[1]
    assert manager.locator("[data-preview-count]").get_attribute("data-preview-count") == "2"
    assert not AssignmentRule.objects.exists()
    shoot(manager, "rules-02-builder-preview")

    manager.click("[data-confirm-save]")
    saved = manager.locator(".toast.success").last
    saved.wait_for()
    assert "杭州客户给 REP_B" in saved.inner_text()
    rule = AssignmentRule.objects.get()
    assert rule.conditions == {
        "all": [
            {"field": "city", "op": "eq", "value": "杭州"},
            {"field": "level", "op": "in", "value": ["A", "B"]},
        ]
    }
    assert rule.target == {"user": world["rep_b"].pk} and rule.pool == east
    assert manager.locator(f"[data-rule='{rule.pk}']").count() == 1
    shoot(manager, "rules-03-list")

    # saving routed nobody yet: the backlog waits for a run; a new customer goes right away
    assert Customer.objects.filter(owner=world["rep_b"], city="杭州", status="owned").count() == 1
    created = intake.create_customer(
        actor=world["admin"],
        fields={
            "name": "杭州钱江新城科技有限公司",
            "kind": "company",
            "province": "浙江",
            "city": "杭州",
            "level": "A",
            "source": "web_form",
        },
        pool=east,
    ).customer
    created.refresh_from_db()
    assert created.owner == world["rep_b"] and created.status == "owned"
    other = intake.create_customer(
        actor=world["admin"],
        fields={"name": "宁波北仑港务有限公司", "kind": "company", "city": "宁波", "level": "A"},
        pool=east,
    ).customer
    other.refresh_from_db()
    assert other.owner is None and other.status == "pooled"

    manager.goto(manager.url.split("/console/")[0] + "/console/runs/")
    run = AssignmentRun.objects.filter(trigger="create", assigned=1).latest("id")
    manager.click(f"[data-run='{run.pk}'] a")
    explained = manager.locator(f"[data-table=decisions] tr[data-customer='{created.pk}']")
    explained.wait_for()
    assert "规则「杭州客户给 REP_B」将该客户分配给了 REP_B" in explained.inner_text()
    shoot(manager, "rules-04-run")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_rule_page_fits_a_laptop_and_a_phone(
    world: dict[str, Any], sign_in: Any, live_server: Any, language: str
) -> None:
    """Screenshots of every page of the editor, with nothing wider than the screen."""
    rule = AssignmentRule.objects.create(
        name="Hangzhou first" if language == "en" else "杭州优先",
        position=1,
        pool=world["east_pool"],
        conditions={
            "any": [
                {"field": "city", "op": "eq", "value": "杭州"},
                {"not": {"field": "employees", "op": "lte", "value": 20}},
            ]
        },
        target={
            "team": world["east"].pk,
            "strategy": "weighted",
            "weights": {str(world["rep_a"].pk): 2},
        },
    )
    from highseas.routing.services import run_assignment

    run = run_assignment(world["east_manager"], pool=world["east_pool"], dry_run=False).run
    for size, viewport in (("laptop", None), ("phone", PHONE)):
        page = sign_in("mgr_east", **(viewport or {}))
        if language == "en":
            page.click("[data-lang=en]")
            page.wait_for_selector("html[lang=en]")
        pages = {
            "list": "/console/rules/",
            "edit": f"/console/rules/{rule.pk}/",
            "runs": "/console/runs/",
            "run": f"/console/runs/{run.pk}/",
        }
        for name, url in pages.items():
            page.goto(live_server.url + url)
            if name == "edit":
                page.click("[data-preview-button]")
                page.wait_for_selector("[data-preview]")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= page.viewport_size["width"] + 1, (name, width)
            shoot(page, f"rules-{name}-{language}-{size}")
