"""The cached figures (``insights.cache``): a cached answer equals the live computation at the
moment it was computed and says when; it is served until stale, while the exact figure is a
click away (``?exact=1`` on the pages, ``exact=true`` on the API) and computed now; each
viewer has their own (a manager never reads another's subtree); the scheduler refreshes the
stale figures still being read and forgets the others; a rep is still refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.insights import cache
from highseas.insights.breakdowns import breakdown, claim_effectiveness
from highseas.insights.console import console_figures, console_page
from highseas.insights.dashboard import dashboard_figures, follow_up_rates, headline, team_reps
from highseas.insights.models import FigureCache
from highseas.insights.performance import fairness, rep_figures
from highseas.pools import followups, ownership
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]
NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def won(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    """rep_a claimed a customer ten days ago, followed it up and won 50000 on it."""
    customer = make_customer(org["admin"], pool=org["east_pool"], now=NOW - timedelta(days=11))
    ownership.claim(org["rep_a"], customer.pk, now=NOW - timedelta(days=10))
    followups.log_activity(
        org["rep_a"], customer.pk, kind="call", occurred_at=NOW - timedelta(days=9)
    )
    followups.open_deal(
        org["rep_a"], customer.pk, amount=Decimal(50_000), stage="won", now=NOW - timedelta(days=5)
    )
    return customer


def claim_another(org: dict[str, Any], make_customer: Callable[..., Customer]) -> None:
    other = make_customer(org["admin"], pool=org["east_pool"], now=NOW - timedelta(days=3))
    ownership.claim(org["rep_b"], other.pk, now=NOW - timedelta(minutes=1))
    followups.open_deal(
        org["rep_b"], other.pk, amount=Decimal(7_000), stage="won", now=NOW - timedelta(seconds=30)
    )


def test_a_cached_answer_is_the_live_one_then_stays_until_stale(
    org: dict[str, Any], won: Customer, make_customer: Callable[..., Customer]
) -> None:
    viewer = Viewer(org["east_manager"])
    first = rep_figures(viewer, cached=True)
    live = rep_figures(viewer, since=first["since"], until=first["until"])
    assert first["reps"] == live["reps"]
    assert first["cached"]["fields"] == [
        "follow_up_rate",
        "won",
        "lost",
        "win_rate",
        "revenue",
        "median_hours_to_first_contact",
    ]
    claim_another(org, make_customer)
    again = {row["username"]: row for row in rep_figures(viewer, cached=True)["reps"]}
    # the claim is exact at once (per-rep days); the deal waits for the cache
    assert (again["rep_b"]["claims"], again["rep_b"]["won"]) == (1, 0)
    exact = {row["username"]: row for row in rep_figures(viewer)["reps"]}
    assert (exact["rep_b"]["claims"], exact["rep_b"]["won"]) == (1, 1)
    later = timezone.now() + cache.stale_after() + timedelta(seconds=1)
    assert cache.refresh(later) == {"figures_refreshed": 1}
    refreshed, computed_at = cache.remember("rep_figures", viewer, {}, now=later)
    assert computed_at == later and refreshed[str(org["rep_b"].pk)]["won"] == 1


def test_each_viewer_has_their_own_figures(org: dict[str, Any], won: Customer) -> None:
    east = rep_figures(Viewer(org["east_manager"]), cached=True)
    south = rep_figures(Viewer(org["south_manager"]), cached=True)
    assert [row["username"] for row in east["reps"]] == ["rep_a", "rep_b"]
    assert [row["username"] for row in south["reps"]] == ["rep_c"]
    assert south["reps"][0]["won"] == 0
    assert FigureCache.objects.count() == 2


def test_an_explicit_window_is_always_live(org: dict[str, Any], won: Customer) -> None:
    found = rep_figures(
        Viewer(org["admin"]), since=NOW - timedelta(days=30), until=NOW, cached=True
    )
    assert "cached" not in found and not FigureCache.objects.exists()


def test_figures_not_read_for_a_day_are_forgotten(org: dict[str, Any], won: Customer) -> None:
    fairness(Viewer(org["admin"]), cached=True)
    assert cache.refresh(timezone.now() + cache.FORGET + timedelta(minutes=1)) == {}
    assert not FigureCache.objects.exists()


def test_cached_fairness_and_pages_equal_the_live_ones(org: dict[str, Any], won: Customer) -> None:
    viewer = Viewer(org["east_manager"])
    cached = fairness(viewer, cached=True, now=NOW)
    live = fairness(viewer, since=cached["since"], until=cached["until"], now=NOW)
    assert {k: v for k, v in cached.items() if k != "cached"} == live
    page = console_page(viewer, days=30, by="source", now=NOW)
    assert page["computed_at"] == NOW
    expected = console_figures(viewer, days=30, by="source", now=NOW)
    page["levels"] = [tuple(row) for row in page["levels"]]  # JSON keeps no tuples
    pages = ("claims_page", "claims_top", "groups_page")  # the shown pages of those figures
    assert {k: v for k, v in page.items() if k not in ("computed_at", *pages)} == expected
    claims = sorted(expected["claims"]["reps"], key=lambda r: (-r["claims"], r["display_name"]))
    assert page["claims_page"]["rows"] == claims[:20]
    assert page["claims_top"] == [row for row in claims[:12] if row["claims"]]
    assert page["groups_page"]["rows"] == expected["breakdown"]["groups"][:20]
    figures = dashboard_figures(viewer, NOW, pool_days=60, activity_days=30, follow_up_days=7)
    reps = team_reps(viewer)
    assert figures["kpi"] == headline(viewer, reps, NOW)
    assert figures["follow"] == follow_up_rates(viewer, reps, NOW - timedelta(days=7))
    assert (
        dashboard_figures(
            viewer, NOW, pool_days=60, activity_days=30, follow_up_days=7, exact=True
        )["computed_at"]
        is None
    )


def test_the_api_says_what_is_cached_and_exact_computes_now(
    org: dict[str, Any], won: Customer, api: Api
) -> None:
    body = api(org["east_manager"]).get("/api/v1/insights/reps/").json()
    assert set(body["cached"]) == {"fields", "computed_at"}
    body = api(org["east_manager"]).get("/api/v1/insights/reps/", {"exact": "true"}).json()
    assert "cached" not in body
    body = api(org["east_manager"]).get("/api/v1/insights/fairness/").json()
    assert body["cached"]["fields"] == ["bouncing", "hoarding"]
    refused = api(org["rep_a"]).get("/api/v1/insights/fairness/")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    own = api(org["rep_a"]).get("/api/v1/insights/reps/").json()
    assert [row["username"] for row in own["reps"]] == ["rep_a"]
    for path, query in (("breakdown/", {"by": "rep"}), ("claims/", {})):
        body = api(org["east_manager"]).get(f"/api/v1/insights/{path}", query).json()
        assert body["cached"]["fields"] == ["*"]
        exact = api(org["east_manager"]).get(f"/api/v1/insights/{path}", query | {"exact": "1"})
        assert "cached" not in exact.json()
        assert {k: v for k, v in body.items() if k not in ("cached", "until", "since")} == {
            k: v for k, v in exact.json().items() if k not in ("until", "since")
        }
        refused = api(org["rep_a"]).get(f"/api/v1/insights/{path}", query)
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")


def test_a_manager_turned_rep_reads_no_cached_figure(org: dict[str, Any], won: Customer) -> None:
    manager = org["east_manager"]
    console_page(Viewer(manager), days=30, by="source", now=NOW)
    breakdown(Viewer(manager), by="rep", cached=True)
    manager.role = "rep"
    manager.save(update_fields=["role"])
    for read in (
        lambda: console_page(Viewer(manager), days=30, by="source", now=NOW),
        lambda: breakdown(Viewer(manager), by="rep", cached=True),
        lambda: fairness(Viewer(manager), cached=True),
    ):
        with pytest.raises(HighSeasError) as refused:
            read()
        assert refused.value.code == ErrorCode.PERMISSION_DENIED


def test_the_pages_say_when_and_link_the_exact_figures(org: dict[str, Any], won: Customer) -> None:
    client = signed_in(org["east_manager"])
    for path in ("/console/", "/console/insights/"):
        page = html(client.get(path))
        assert "data-cached=" in page and "exact=1" in page
        exact = html(client.get(path + "?exact=1"))
        assert "data-exact-now" in exact and "data-cached=" not in exact


def test_a_manager_whose_teams_changed_reads_no_figure_of_their_old_teams(
    org: dict[str, Any], won: Customer
) -> None:
    """The cache answers for what the viewer may see now: a manager whose team was handed to
    another manager, and who was given another team, never reads the figures cached for the
    team they had."""
    manager, east, south = org["east_manager"], org["east"], org["south"]
    figures = (breakdown, claim_effectiveness)
    kwargs: tuple[dict[str, Any], ...] = ({"by": "rep"}, {})
    cached = [f(Viewer(manager), cached=True, **kw) for f, kw in zip(figures, kwargs, strict=True)]
    assert [g["key"] for g in cached[0]["groups"]] == ["rep_a"]  # east's rep
    east.manager, south.manager = org["south_manager"], manager
    east.save(update_fields=["manager"])
    south.save(update_fields=["manager"])
    for f, kw in zip(figures, kwargs, strict=True):
        found = f(Viewer(manager), cached=True, **kw)
        live = f(Viewer(manager), **kw)
        assert found["cached"]["computed_at"] is not None
        for answer in (found, live):
            for when in ("cached", "since", "until"):
                answer.pop(when, None)
        assert (found, f.__name__) == (live, f.__name__)


def test_another_grouping_recomputes_only_the_breakdown(
    org: dict[str, Any], won: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's figures are cached in parts: a second grouping of the same window reuses the
    window's claims and fairness and the levels; another window reuses the levels."""
    from highseas.insights import console

    computed: list[str] = []
    for name in ("_breakdown_part", "_window_part", "level_counts"):
        real = getattr(console, name)
        monkeypatch.setattr(
            console,
            name,
            lambda *a, _real=real, _name=name, **k: computed.append(_name) or _real(*a, **k),
        )
    viewer = Viewer(org["east_manager"])
    first = console_page(viewer, days=30, by="source", now=NOW)
    assert sorted(computed) == ["_breakdown_part", "_window_part", "level_counts"]
    computed.clear()
    second = console_page(viewer, days=30, by="industry", now=NOW + timedelta(minutes=1))
    assert computed == ["_breakdown_part"]
    assert (second["claims"], second["fairness"]) == (first["claims"], first["fairness"])
    assert second["breakdown"]["by"] == "industry"
    computed.clear()
    console_page(viewer, days=7, by="industry", now=NOW + timedelta(minutes=2))
    assert sorted(computed) == ["_breakdown_part", "_window_part"]
    assert FigureCache.objects.filter(key__startswith="insights_breakdown|").count() == 3
