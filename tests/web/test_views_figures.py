"""Figures that must agree: the home page's recycle card and the tab it opens count the same
customers; 我的客户 says what it counts beside the cap's count; planned contacts in the next
days list no overdue plan (those have their own section)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from highseas.customers.models import Customer
from highseas.pools import followups
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db


def _stat(page: str, name: str) -> int:
    found = re.search(rf'data-stat="{name}">(\d+)<', page)
    assert found, name
    return int(found.group(1))


def test_the_recycle_card_and_the_tab_it_opens_agree(world: dict[str, Any]) -> None:
    client = signed_in(world["rep_a"])
    home = html(client.get("/"))
    card = _stat(home, "due")
    assert card > 0
    assert 'href="/mine/?view=due"' in home
    mine = html(client.get("/mine/?view=due"))
    tab = re.search(r'view=due" class="active">[^<]*<span class="tab-count[^"]*">(\d+)<', mine)
    assert tab and int(tab.group(1)) == card
    assert mine.count("<tr data-customer") == min(card, 30)


def test_my_customers_says_how_many_are_won_and_frozen(world: dict[str, Any]) -> None:
    rep = world["rep_b"]
    held = Customer.objects.filter(owner=rep)
    won, frozen = held.filter(stage="won").count(), held.filter(status="frozen").count()
    assert won > 0
    with translation.override("en"):
        home = html(signed_in(rep).get("/", HTTP_ACCEPT_LANGUAGE="en"))
    assert _stat(home, "holdings") == held.count()
    breakdown = re.search(r'data-stat="held-breakdown">([^<]*)<', home)
    assert breakdown and f"{won}" in breakdown.group(1) and f"{frozen}" in breakdown.group(1)
    assert 'data-quota="held">' in home


def test_overdue_plans_are_not_listed_as_upcoming(world: dict[str, Any]) -> None:
    rep = world["rep_a"]
    now = timezone.now()
    late, soon = world["held_a"][0], world["held_a"][1]
    followups.log_activity(rep, late.pk, kind="call", next_contact_at=now - timedelta(days=2))
    followups.log_activity(rep, soon.pk, kind="call", next_contact_at=now + timedelta(days=3))
    page = html(signed_in(rep).get("/notifications/"))
    upcoming = page[page.index("data-upcoming-contacts") :]
    overdue = page[page.index("data-overdue-contacts") : page.index("data-upcoming-contacts")]
    assert soon.name in upcoming and late.name not in upcoming
    assert late.name in overdue


def test_the_favicon_is_a_local_file(client: Any) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].startswith("/static/highseas/favicon")
