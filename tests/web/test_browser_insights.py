"""The insights page in a real browser with more reps than one page holds: the claim
effectiveness table shows a ranked page of 20, the manager sorts it by name and pages through
it, and the page fits a laptop and a phone in Chinese and English (shots for each)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.accounts.models import Role, User
from highseas.insights.performance import PAGE_SIZE
from highseas.pools import ownership
from highseas.pools.models import Pool
from tests.web.pages import PHONE, fits, in_language, shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 860}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
EXTRA = 23  # with rep_a and rep_b, 25 east reps: two pages


@pytest.fixture
def crowd(world: dict[str, Any], make_user: Any, make_customer: Any) -> list[User]:
    """23 more east reps; rep number i claims i % 4 customers of the east pool this week."""
    now = timezone.now()
    pool = Pool.objects.get(name="华东公海")
    reps = [
        make_user(Role.REP, f"crowd{n:02d}", team=world["east"], display_name=f"{name}晓明")
        for n, name in enumerate(SURNAMES[:EXTRA])
    ]
    for index, rep in enumerate(reps):
        for day in range(index % 4):
            customer = make_customer(world["admin"], pool=pool, now=now - timedelta(days=5))
            ownership.claim(rep, customer.pk, now=now - timedelta(days=day + 1))
    return reps


def claim_rows(page: Any) -> list[str]:
    return [
        str(pk)
        for pk in page.eval_on_selector_all(
            "[data-claims] tbody tr[data-rep]", "rows => rows.map(r => r.dataset.rep)"
        )
    ]


def test_a_manager_pages_and_sorts_the_claims_table(
    world: dict[str, Any], crowd: list[User], sign_in: Any
) -> None:
    page = sign_in("mgr_east", **LAPTOP)
    page.click("nav.topnav >> text=管理台")
    page.click(".console-tabs >> text=洞察")
    page.wait_for_selector("[data-claims]")
    first = claim_rows(page)
    assert len(first) == PAGE_SIZE
    assert "1–20" in page.inner_text("[data-pager=claims] [data-pager-range]")
    page.click("[data-pager=claims] [data-next]")
    page.wait_for_selector("[data-pager=claims] [data-prev]")
    second = claim_rows(page)
    east = User.objects.filter(team=world["east"], role=Role.REP, is_active=True)
    assert sorted(first + second) == sorted(str(rep.pk) for rep in east)
    page.click("[data-claims] thead [data-sort-key=display_name]")
    page.wait_for_selector("[data-claims][data-sort=display_name]")
    names = page.eval_on_selector_all(
        "[data-claims] tbody tr[data-rep] td:first-child", "cells => cells.map(c => c.innerText)"
    )
    assert names == sorted(names) and len(names) == PAGE_SIZE
    assert "page=" not in page.url  # a new order starts at its first page


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_the_insights_page_fits_in_both_languages(
    world: dict[str, Any],
    crowd: list[User],
    sign_in: Any,
    live_server: Any,
    language: str,
    size: str,
) -> None:
    page = in_language(sign_in, "mgr_east", language, PHONE if size == "phone" else LAPTOP)
    tag = f"{'zh' if language == 'zh-hans' else 'en'}-{size}"
    for name, query in (("insights", "?days=30&by=source"), ("insights-p2", "?by=rep&page=2")):
        page.goto(f"{live_server.url}/console/insights/{query}")
        page.wait_for_selector("[data-claims]")
        fits(page)
        shoot(page, f"{name}-{tag}")
