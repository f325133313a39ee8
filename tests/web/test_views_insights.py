"""The console's figures as a manager reads them: each chart drawn for a laptop and a phone,
tooltips on every bar and point, bars linking to the customers behind them; the insights page
shows the breakdowns, claim effectiveness, fairness, value levels and limit plans; a rep is
refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from highseas.accounts.visibility import Viewer
from highseas.insights.breakdowns import breakdown
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db


def test_each_dashboard_chart_comes_in_a_laptop_and_a_phone_geometry(
    world: dict[str, Any],
) -> None:
    page = html(signed_in(world["east_manager"]).get("/console/"))
    laptop = re.findall(r'class="chart-box chart-laptop"', page)
    phone = re.findall(r'class="chart-box chart-phone"', page)
    assert len(laptop) == len(phone) == 4
    widths = re.findall(r'<svg class="chart" viewBox="0 0 (\d+) ', page)
    assert sorted(set(widths)) == ["1120", "360", "560"]
    assert "insights.css" in page


def test_dashboard_bars_link_to_the_reps_customers(world: dict[str, Any]) -> None:
    page = html(signed_in(world["east_manager"]).get("/console/"))
    for rep in ("rep_a", "rep_b"):
        assert f'href="/console/customers/?owner={world[rep].pk}"' in page
    assert re.search(r'<circle class="chart-point"[^>]*><title>[^<]+: \d+</title>', page)
    assert re.search(r"<rect [^>]*><title>REP_A: \d+", page)


def test_the_insights_page_shows_every_figure(world: dict[str, Any]) -> None:
    manager = world["east_manager"]
    page = html(signed_in(manager).get("/console/insights/?days=90&by=rep"))
    for marker in ("data-breakdown", "data-claims", "data-gini", "data-bouncing", "data-plans"):
        assert marker in page
    assert 'class="active" data-by="rep"' in page
    drawn = page.count('class="chart-box chart-laptop"')
    empty = page.count('class="chart-empty"') // 2  # an empty chart says so in both geometries
    assert drawn == page.count('class="chart-box chart-phone"') == 4 - empty
    for level in "ABC":
        assert f'href="/console/customers/?level={level}"' in page


def test_the_insights_page_counts_what_the_service_counts(world: dict[str, Any]) -> None:
    manager = world["east_manager"]
    page = html(signed_in(manager).get("/console/insights/?days=30&by=rep"))
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"right\">(\d+)</td>", page)
    groups = breakdown(Viewer(manager), by="rep")["groups"]
    assert [(name, int(n)) for name, n in rows] == [(g["key"], g["gains"]) for g in groups]


def test_a_rep_is_refused_the_insights_page(world: dict[str, Any]) -> None:
    response = signed_in(world["rep_a"]).get("/console/insights/")
    assert response.status_code == 403


def test_an_unknown_grouping_falls_back_to_the_source(world: dict[str, Any]) -> None:
    page = html(signed_in(world["east_manager"]).get("/console/insights/?by=colour&days=5"))
    assert 'class="active" data-by="source"' in page
    assert 'href="?days=30&by=source" class="active"' in page


def test_the_customer_page_says_why_it_has_its_level(world: dict[str, Any]) -> None:
    from django.utils import timezone

    from highseas.customers.models import Customer
    from highseas.insights.value import level_explanation

    rep = world["rep_a"]
    customer = Customer.objects.filter(owner=rep).order_by("pk").first()
    assert customer is not None
    page = html(signed_in(rep).get(f"/customers/{customer.pk}/"))
    found = re.search(r"<p class=\"muted small\" data-level-reason>([^<]+)</p>", page)
    assert found
    text = level_explanation(Viewer(rep), customer, now=timezone.now())["text"]
    assert found.group(1).endswith(text)
