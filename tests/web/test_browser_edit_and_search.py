"""In a real browser: a rep edits a customer but cannot change its owner or level (the page
offers neither, and a forged post is refused with nothing changed); public search finds
another team's customer with only the configured fields, and its page says who holds it.
Screenshots of the new pages in Chinese and English, on a laptop and a phone."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.customers.public_settings import save_public_settings
from highseas.intake.creation import create_customer
from highseas.pools import followups

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = (390, 844)


@pytest.fixture
def customers(org: dict[str, Any]) -> dict[str, Customer]:
    mine = create_customer(
        actor=org["rep_a"],
        fields={
            "name": "杭州云帆网络科技有限公司",
            "phone": "13800138001",
            "level": "B",
            "province": "浙江",
            "city": "杭州",
            "kind": "company",
        },
        owner=org["rep_a"],
    ).customer
    theirs = create_customer(
        actor=org["rep_c"],
        fields={
            "name": "广州珠江电子科技有限公司",
            "phone": "13800138888",
            "province": "广东",
            "city": "广州",
            "industry": "电子制造",
            "email": "hi@zhujiang.example",
        },
        owner=org["rep_c"],
    ).customer
    followups.add_contact(org["rep_a"], mine.pk, name="王经理", phones=["13900139000"])
    followups.open_deal(org["rep_a"], mine.pk, amount=Decimal("128000"), name="数据平台一期")
    followups.open_deal(
        org["rep_b"],
        create_customer(
            actor=org["rep_b"], fields={"name": "宁波海曙精工机械有限公司"}, owner=org["rep_b"]
        ).customer.pk,
        amount=Decimal("56000"),
        stage="proposal",
        name="产线改造",
    )
    save_public_settings(
        Viewer(org["admin"]),
        fields=["name", "city", "industry"],
        scope="prospects_and_won",
        statuses=["unassigned", "owned", "frozen", "recycled"],
    )
    return {"mine": mine, "theirs": theirs}


def _base(page: Any) -> str:
    return "/".join(page.url.split("/")[:3])


def _english(page: Any) -> None:
    page.click('.lang-switch [data-lang="en"]')
    page.wait_for_load_state()


def test_a_rep_edits_a_customer_but_not_its_owner_or_level(
    org: dict[str, Any], customers: dict[str, Customer], sign_in: Any, screenshot: Any
) -> None:
    mine = customers["mine"]
    rep = sign_in("rep_a")
    rep.goto(f"{_base(rep)}/customers/{mine.pk}/")
    rep.click("[data-edit]")
    rep.wait_for_selector("[data-edit-customer]")
    for absent in ("owner", "pool", "level", "stage"):
        assert rep.locator(f'[data-edit-customer] [name="{absent}"]').count() == 0
    screenshot(rep, "daily-b/10-customer-edit-zh")
    rep.fill("#id_industry", "软件和信息技术服务")
    rep.click("[data-save-customer]")
    rep.locator(".toast.success").last.wait_for()
    mine.refresh_from_db()
    assert mine.industry == "软件和信息技术服务"

    rep.goto(f"{_base(rep)}/customers/{mine.pk}/edit/")
    rep.evaluate(
        """(owner) => {
            const form = document.querySelector('[data-edit-customer]');
            for (const [name, value] of [['owner', owner], ['level', 'A']]) {
                const input = document.createElement('input');
                input.type = 'hidden'; input.name = name; input.value = value;
                form.appendChild(input);
            }
        }""",
        str(org["rep_b"].pk),
    )
    rep.fill("#id_industry", "制造业")
    rep.click("[data-save-customer]")
    refusal = rep.locator("[data-refusal]")
    refusal.wait_for()
    assert refusal.get_attribute("data-refusal") == "validation_error"
    assert "owner" in refusal.inner_text()
    screenshot(rep, "daily-b/11-customer-edit-refused-zh")
    mine.refresh_from_db()
    assert (mine.owner, mine.level, mine.industry) == (org["rep_a"], "B", "软件和信息技术服务")

    rep.goto(f"{_base(rep)}/customers/{mine.pk}/")
    rep.click("[data-edit-contact]")
    rep.wait_for_selector("[data-edit-contact]")
    screenshot(rep, "daily-b/12-contact-edit-zh")
    _english(rep)
    screenshot(rep, "daily-b/13-contact-edit-en")
    rep.goto(f"{_base(rep)}/customers/{mine.pk}/edit/")
    screenshot(rep, "daily-b/14-customer-edit-en")

    phone = sign_in("rep_a", width=PHONE[0], height=PHONE[1])
    phone.goto(f"{_base(phone)}/customers/{mine.pk}/edit/")
    screenshot(phone, "daily-b/15-customer-edit-phone-zh")
    phone.goto(f"{_base(phone)}/deals/")
    phone.wait_for_selector("[data-board]")
    screenshot(phone, "daily-b/16-pipeline-phone-zh")


def test_public_search_finds_another_teams_customer_with_the_configured_fields(
    org: dict[str, Any], customers: dict[str, Customer], sign_in: Any, screenshot: Any
) -> None:
    theirs = customers["theirs"]
    rep = sign_in("rep_a")
    rep.click("[data-nav-search]")
    rep.fill("#id_q", "珠江电子")
    rep.click("[data-public-search] button[type=submit]")
    row = rep.locator(f'[data-result="{theirs.pk}"]')
    row.wait_for()
    assert row.locator("td").all_inner_texts() == [
        "广州珠江电子科技有限公司",
        "电子制造",
        "广州",
        "已分配",
    ]
    headers = rep.locator("[data-results] th").all_inner_texts()
    assert len(headers) == 4
    content = rep.content()
    assert "13800138888" not in content and "hi@zhujiang.example" not in content
    screenshot(rep, "daily-b/20-public-search-zh")
    row.locator("a").click()
    rep.wait_for_selector("[data-public-card]")
    holder = rep.locator("[data-holder]").inner_text()
    assert "REP_C" in holder and "华南销售部" in holder
    assert "13800138888" not in rep.content()
    screenshot(rep, "daily-b/21-public-card-zh")
    _english(rep)
    screenshot(rep, "daily-b/22-public-card-en")
    rep.goto(f"{_base(rep)}/search/?q=珠江电子")
    screenshot(rep, "daily-b/23-public-search-en")

    phone = sign_in("rep_a", width=PHONE[0], height=PHONE[1])
    phone.goto(f"{_base(phone)}/search/?q=珠江电子")
    phone.wait_for_selector(f'[data-result="{theirs.pk}"]')
    screenshot(phone, "daily-b/24-public-search-phone-zh")
    phone.goto(f"{_base(phone)}/customers/{theirs.pk}/")
    screenshot(phone, "daily-b/25-public-card-phone-zh")

    admin = sign_in("boss")
    admin.goto(f"{_base(admin)}/console/public-search/")
    admin.wait_for_selector("[data-public-settings-form]")
    screenshot(admin, "daily-b/30-public-settings-zh")
    _english(admin)
    screenshot(admin, "daily-b/31-public-settings-en")
    admin_phone = sign_in("boss", width=PHONE[0], height=PHONE[1])
    admin_phone.goto(f"{_base(admin_phone)}/console/public-search/")
    screenshot(admin_phone, "daily-b/32-public-settings-phone-zh")

    manager = sign_in("mgr_east")
    manager.click("[data-nav-deals]")
    manager.wait_for_selector("[data-board]")
    assert manager.locator("[data-deal]").count() == 2
    screenshot(manager, "daily-b/40-pipeline-manager-zh")
    _english(manager)
    screenshot(manager, "daily-b/41-pipeline-manager-en")
