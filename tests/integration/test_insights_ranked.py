"""Ranked, paged rep tables (an admin sees thousands of reps): the insights page's claim
effectiveness and breakdown tables and ``insights/reps`` rank every rep in view and show one
page of them. The order and the pages are checked against counts made here from the ledger;
a manager never meets another team's rep on any page; a rep is refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import Role, User
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind
from highseas.insights.performance import PAGE_SIZE, ranked
from highseas.pools import ownership
from highseas.pools.models import OwnershipEvent

pytestmark = pytest.mark.django_db

EAST_EXTRA = 26  # east holds 28 reps: more than one page of PAGE_SIZE


@pytest.fixture
def book(
    org: dict[str, Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
) -> dict[str, Any]:
    """East: rep_a, rep_b and 26 more reps; south: rep_c and 2 more. Rep number i claims
    i % 4 customers from their team's pool over the last days (so claims tie often)."""
    now = timezone.now()
    east = [org["rep_a"], org["rep_b"]] + [
        make_user(Role.REP, f"east{n:02d}", team=org["east"], display_name=f"E{(n * 7) % 23:02d}")
        for n in range(EAST_EXTRA)
    ]
    south = [org["rep_c"]] + [make_user(Role.REP, f"south{n}", team=org["south"]) for n in range(2)]
    for reps, pool in ((east, org["east_pool"]), (south, org["south_pool"])):
        for index, rep in enumerate(reps):
            for day in range(index % 4):
                customer = make_customer(org["admin"], pool=pool, now=now - timedelta(days=6))
                ownership.claim(rep, customer.pk, now=now - timedelta(days=day + 1))
    return {**org, "east_reps": east, "south_reps": south}


def claims_of(reps: list[User]) -> dict[int, int]:
    """Claims per rep in the last 30 days, counted from the ledger here."""
    since = timezone.now() - timedelta(days=29)
    events = OwnershipEvent.objects.filter(kind=EventKind.CLAIMED.value, at__gte=since)
    return {rep.pk: events.filter(to_owner=rep).count() for rep in reps}


def expected_order(reps: list[User]) -> list[int]:
    """Most claims first; ties by display name, then id."""
    claims = claims_of(reps)
    return [rep.pk for rep in sorted(reps, key=lambda r: (-claims[r.pk], r.label, r.pk))]


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_reps(client: Client, query: str) -> tuple[list[int], str]:
    response = client.get(f"/console/insights/?{query}")
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    table = page.split("data-claims", 1)[1].split("</table>", 1)[0]
    return [int(pk) for pk in re.findall(r'<tr data-rep="(\d+)">', table)], page


# ranked: the service's ordering and paging, on rows made here


def test_ranked_orders_by_the_figure_then_name_with_empty_figures_last() -> None:
    rows = [
        {"rep": 1, "display_name": "b", "rate": 0.5},
        {"rep": 2, "display_name": "a", "rate": None},
        {"rep": 3, "display_name": "c", "rate": 0.5},
        {"rep": 4, "display_name": "a", "rate": 0.9},
        {"rep": 5, "display_name": "a", "rate": 0.5},
    ]
    sorts = ("-rate", "rate")
    most = ranked(rows, sort="-rate", sorts=sorts)
    assert [r["rep"] for r in most["rows"]] == [4, 5, 1, 3, 2]
    least = ranked(rows, sort="rate", sorts=sorts)
    assert [r["rep"] for r in least["rows"]] == [5, 1, 3, 4, 2]
    assert ranked(rows, sort="colour", sorts=sorts)["sort"] == "-rate"


def test_ranked_pages_cover_every_row_once() -> None:
    rows = [{"rep": n, "display_name": f"r{n:02d}", "n": n % 3} for n in range(45)]
    seen = []
    for number in (1, 2, 3):
        page = ranked(rows, sort="-n", sorts=("-n",), page=number, size=20)
        assert (page["page"], page["pages"], page["count"]) == (number, 3, 45)
        seen += [row["rep"] for row in page["rows"]]
    assert len(page["rows"]) == 5
    assert seen == [row["rep"] for row in ranked(rows, sort="-n", sorts=("-n",))["rows"]]
    assert sorted(seen) == list(range(45))
    past = ranked(rows, sort="-n", sorts=("-n",), page=99, size=20)
    assert past["page"] == 3 and past["rows"] == page["rows"]
    assert ranked([], sort="-n", sorts=("-n",), page=2, size=20)["pages"] == 1


# the insights page


def test_the_claims_table_ranks_every_east_rep_across_its_pages(book: dict[str, Any]) -> None:
    client = signed_in(book["east_manager"])
    first, page = page_reps(client, "days=30&by=rep")
    second, page2 = page_reps(client, "days=30&by=rep&page=2")
    assert len(first) == PAGE_SIZE and len(second) == len(book["east_reps"]) - PAGE_SIZE
    assert first + second == expected_order(book["east_reps"])
    assert 'href="?days=30&amp;by=rep&amp;page=2"' in page and "data-next" in page
    assert "data-prev" not in page.split("data-claims", 1)[1].split("</nav>", 1)[0]
    assert "data-prev" in page2 and "21–28" in page2


def test_a_manager_never_sees_another_teams_rep_on_any_page(book: dict[str, Any]) -> None:
    south = {rep.pk for rep in book["south_reps"]}
    east = {rep.pk for rep in book["east_reps"]}
    for manager, own, other in (
        (book["east_manager"], east, south),
        (book["south_manager"], south, east),
    ):
        client = signed_in(manager)
        shown: list[int] = []
        for number in (1, 2, 3):
            for sort in ("", "&sort=display_name", "&sort=-won"):
                reps, page = page_reps(client, f"by=rep&page={number}{sort}")
                assert not set(reps) & other
                assert not any(f'?owner={pk}"' in page for pk in other)
                shown += reps if sort == "" else []
        assert set(shown) == own


def test_the_claims_table_sorts_by_name_and_keeps_the_window(book: dict[str, Any]) -> None:
    client = signed_in(book["east_manager"])
    reps, page = page_reps(client, "days=7&sort=display_name")
    names = sorted(book["east_reps"], key=lambda r: (r.label, r.pk))
    assert reps == [rep.pk for rep in names][:PAGE_SIZE]
    assert 'data-sort="display_name"' in page
    assert 'href="?days=7&amp;sort=display_name&amp;page=2"' in page
    _, unknown = page_reps(client, "sort=colour")
    assert 'data-sort="-claims"' in unknown


def breakdown_rows(client: Client, query: str) -> list[str]:
    page = client.get(f"/console/insights/?{query}").content.decode()
    table = page.split("data-breakdown", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>([^<]+)</td>", table)


def test_the_breakdown_by_rep_is_paged_too(book: dict[str, Any]) -> None:
    reps = book["east_reps"] + book["south_reps"]
    claims = claims_of(reps)
    groups = sorted((-claims[rep.pk], rep.username) for rep in reps if claims[rep.pk])
    assert len(groups) > PAGE_SIZE
    client = signed_in(book["admin"])
    first = breakdown_rows(client, "days=30&by=rep")
    second = breakdown_rows(client, "days=30&by=rep&gpage=2")
    assert first + second == [name for _n, name in groups]
    assert len(first) == PAGE_SIZE


def test_a_rep_is_refused_every_page(book: dict[str, Any]) -> None:
    client = signed_in(book["rep_a"])
    for query in ("", "page=2", "sort=display_name", "gpage=2&by=rep"):
        assert client.get(f"/console/insights/?{query}").status_code == 403


# insights/reps


def api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_reps_api_answers_every_rep_unpaged_with_a_count(book: dict[str, Any]) -> None:
    found = api(book["east_manager"]).get("/api/v1/insights/reps/").json()
    names = sorted(rep.username for rep in book["east_reps"])
    assert [row["username"] for row in found["reps"]] == names
    assert found["count"] == len(names)
    assert "page" not in found and "pages" not in found


def test_the_reps_api_pages_ranked_rows(book: dict[str, Any]) -> None:
    client = api(book["east_manager"])
    pages = [
        client.get(f"/api/v1/insights/reps/?sort=-claims&page={n}&page_size=10").json()
        for n in (1, 2, 3)
    ]
    assert [(p["page"], p["pages"], p["count"], p["page_size"]) for p in pages] == [
        (n, 3, 28, 10) for n in (1, 2, 3)
    ]
    assert [row["rep"] for p in pages for row in p["reps"]] == expected_order(book["east_reps"])
    claims = claims_of(book["east_reps"])
    assert all(row["claims"] == claims[row["rep"]] for p in pages for row in p["reps"])
    default = client.get("/api/v1/insights/reps/?page=2").json()
    assert (default["sort"], default["page_size"]) == ("username", PAGE_SIZE)
    names = sorted(rep.username for rep in book["east_reps"])
    assert [row["username"] for row in default["reps"]] == names[PAGE_SIZE:]


def test_the_reps_api_pages_hold_no_other_teams_rep(book: dict[str, Any]) -> None:
    south = {rep.pk for rep in book["south_reps"]}
    client = api(book["east_manager"])
    for number in range(1, 5):
        for sort in ("-claims", "username", "-win_rate", "display_name"):
            found = client.get(f"/api/v1/insights/reps/?sort={sort}&page={number}&page_size=7")
            assert found.status_code == 200
            assert not {row["rep"] for row in found.json()["reps"]} & south


def test_the_reps_api_refuses_a_bad_sort_or_size(book: dict[str, Any]) -> None:
    client = api(book["east_manager"])
    for query, field in (
        ("sort=colour", "sort"),
        ("page_size=501", "page_size"),
        ("page=0", "page"),
    ):
        response = client.get(f"/api/v1/insights/reps/?{query}")
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert field in response.json()["errors"]


def test_a_rep_pages_only_their_own_row(book: dict[str, Any]) -> None:
    found = api(book["rep_b"]).get("/api/v1/insights/reps/?page=1&sort=-claims").json()
    assert [row["rep"] for row in found["reps"]] == [book["rep_b"].pk]
    assert found["count"] == 1
