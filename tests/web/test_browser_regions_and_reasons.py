"""In a real browser, in English: the new-customer form offers the provinces by their English
names and the province's cities in pinyin; the customer registered with them is stored under
the Chinese names, and its ledger reads in English (and in Chinese after switching back).
Screenshots in both languages, laptop and phone."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.customers.models import Customer
from highseas.pools.models import OwnershipEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = (390, 844)


def _switch(page: Any, language: str) -> None:
    page.click(f'.lang-switch [data-lang="{language}"]')
    page.wait_for_load_state()


@pytest.mark.parametrize("size", [(1366, 860), PHONE], ids=["laptop", "phone"])
def test_a_rep_registers_a_customer_in_english_and_reads_its_ledger_in_both_languages(
    org: dict[str, Any], sign_in: Any, screenshot: Any, size: tuple[int, int]
) -> None:
    rep = sign_in("rep_a", width=size[0], height=size[1])
    _switch(rep, "en")
    base = "/".join(rep.url.split("/")[:3])
    rep.goto(f"{base}/customers/new/")
    labels = rep.eval_on_selector_all("select[data-province] option", "o => o.map(x => x.text)")
    assert "Zhejiang" in labels and "Inner Mongolia" in labels and "浙江" not in labels
    rep.fill("#id_name", "杭州青山湖科技有限公司")
    rep.select_option("select[data-province]", label="Zhejiang")
    cities = rep.eval_on_selector_all("#city-options option", "o => o.map(x => x.value)")
    assert "Hangzhou" in cities and "Ningbo" in cities and "Guangzhou" not in cities
    rep.fill("#id_city", "Hangzhou")
    screenshot(rep, f"codes-new-customer-en-{size[0]}")
    rep.click("button[data-create]")
    rep.wait_for_load_state()
    created = Customer.objects.get(name="杭州青山湖科技有限公司")
    assert (created.province, created.city) == ("浙江", "杭州")
    event = OwnershipEvent.objects.get(customer=created)
    assert event.reason_code == "registered_by_owner"
    rep.goto(f"{base}/customers/{created.pk}/")
    body = rep.inner_text("body")
    assert "Registered by the owner" in body and "负责人自行登记" not in body
    screenshot(rep, f"codes-ledger-en-{size[0]}")
    _switch(rep, "zh-hans")
    body = rep.inner_text("body")
    assert "负责人自行登记" in body and "Registered by the owner" not in body
    screenshot(rep, f"codes-ledger-zh-{size[0]}")
