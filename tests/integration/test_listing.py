"""Customer lists read branch by branch (``pools.listing.listed_customers``) give exactly the
rows of the one-statement filter over ``Viewer.customers()``: on a seeded demo book, for every
user (admin, managers, reps, a rep covering a colleague's leave), every filter the console, the
pool page and the API offer, both team readings (owner by owner and one dense piece), and both
directions of keyset paging."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, Q
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts import visibility
from highseas.accounts.models import RepProfile, Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.matching import NameQuery
from highseas.customers.models import Customer
from highseas.customers.search import name_filter, row_match
from highseas.demo.generator import DemoOptions, generate_demo
from highseas.pools.listing import listed_customers
from highseas.pools.models import LeaveMode, RecyclePolicy

pytestmark = pytest.mark.django_db(transaction=False)

PAGE = 12  # small pages: many cursors on a small book


@pytest.fixture
def book() -> dict[str, Any]:
    call_command("init", admin_username="admin", admin_password="Admin#2026", stdout=io.StringIO())
    now = datetime.fromisoformat("2026-05-18T00:00:00+08:00")
    generate_demo(DemoOptions(customers=360, now=now, batch_size=120, parallel=False))
    # ordered: an unordered DISTINCT comes back in the plan's order, which can change with
    # the tables' statistics (PostgreSQL), and with it whose leave and which pool are tested
    reps = list(
        User.objects.filter(role=Role.REP, customers__isnull=False).distinct().order_by("pk")[:2]
    )
    away, cover = reps
    today = timezone.localdate()
    RepProfile.objects.update_or_create(
        user=away,
        defaults={
            "leave_from": today - timedelta(days=1),
            "leave_until": today + timedelta(days=3),
            "leave_cover": cover,
        },
    )
    held_in = Customer.objects.filter(owner=away).values_list("pool_id", flat=True).first()
    RecyclePolicy.objects.update_or_create(
        pool_id=held_in, defaults={"leave_mode": LeaveMode.COVER}
    )
    some = Customer.objects.exclude(name="").order_by("pk")[5]
    return {"cover": cover, "away": away, "name": some.name, "pool": held_in}


def _users(book: dict[str, Any]) -> list[User]:
    managers = list(User.objects.filter(role=Role.MANAGER).order_by("pk")[:2])
    reps = list(User.objects.filter(role=Role.REP).order_by("pk")[:2])
    admin = User.objects.get(username="admin")
    return [admin, *managers, *reps, book["cover"]]


def _cases(book: dict[str, Any]) -> Iterator[dict[str, Any]]:
    due = Q(recycle_due_at__lte=timezone.now() + timedelta(days=7))
    owned = Customer.objects.filter(owner__isnull=False).order_by("pk")
    owner = owned.values_list("owner_id", flat=True)[0]
    for statuses in (None, ("owned", "frozen"), ("pooled",), ("frozen",), ("owned",), ()):
        yield {"statuses": statuses}
        yield {"statuses": statuses, "extra": due}
        yield {"statuses": statuses, "filters": {"owner_id": owner}}
        yield {"statuses": statuses, "filters": {"pool_id": book["pool"]}}
        yield {"statuses": statuses, "filters": {"pool_id": book["pool"], "level": "A"}}
    for text in ("科技", "技", book["name"], book["name"][:2], "keji", "kj", "x"):
        yield {"statuses": None, "text": text}
        yield {"statuses": ("owned", "frozen"), "text": text}
        yield {"statuses": ("pooled",), "text": text, "filters": {"pool_id": book["pool"]}}
    yield {"statuses": None, "filters": {"province": "浙江"}}


def _old(viewer: Viewer, case: dict[str, Any]) -> list[int]:
    """The one-statement filter the lists used before."""
    customers = viewer.customers().filter(**case.get("filters", {}))
    if case.get("statuses") is not None:
        customers = customers.filter(status__in=case["statuses"])
    if case.get("extra") is not None:
        customers = customers.filter(case["extra"])
    if case.get("text"):
        customers = customers.filter(name_filter(case["text"]))
    return list(customers.order_by("-pk").values_list("pk", flat=True))


def _paged(
    viewer: Viewer, case: dict[str, Any], *, backward: bool
) -> tuple[list[int], list[int] | None]:
    """Every page forward (newest first), then every page backward from the end."""
    forward: list[int] = []
    after = None
    while True:
        chunk = listed_customers(viewer, after=after, limit=PAGE + 1, **case)
        rows = list(chunk.order_by("-pk").values_list("pk", flat=True)[: PAGE + 1])
        forward += rows[:PAGE]
        if len(rows) <= PAGE:
            break
        after = rows[PAGE - 1]
    if not backward:
        return forward, None
    earlier: list[int] = []
    before = 0
    while True:
        chunk = listed_customers(viewer, before=before, after=10**9, limit=PAGE + 1, **case)
        rows = list(chunk.order_by("pk").values_list("pk", flat=True)[: PAGE + 1])
        earlier = list(reversed(rows[:PAGE])) + earlier
        if len(rows) <= PAGE:
            break
        before = rows[PAGE - 1]
    return forward, earlier


@pytest.mark.parametrize("few_owners", [0, 1000])
def test_lists_read_branch_by_branch_give_the_rows_of_the_one_statement_filter(
    book: dict[str, Any], few_owners: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(visibility, "FEW_OWNERS", few_owners)
    checked = nonempty = 0
    for user in _users(book):
        for case in _cases(book):
            viewer = Viewer(user)
            expected = _old(viewer, case)
            forward, backward = _paged(viewer, case, backward=checked % 3 == 0)
            assert forward == expected, (user.username, case)
            assert backward in (expected, None), (user.username, case)
            checked += 1
            nonempty += bool(expected)
    assert nonempty > checked // 3  # the table is not a table of empty lists
    covered = Viewer(book["cover"])
    assert covered.covered_owner_ids == {book["away"].pk}
    assert any(c.owner_id == book["away"].pk for c in listed_customers(covered, limit=10**6)), (
        "the leave cover branch is exercised"
    )


def test_a_dense_team_is_read_along_the_primary_key_and_a_small_one_owner_by_owner(
    book: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = User.objects.filter(role=Role.MANAGER, managed_teams__isnull=False).first()
    assert manager is not None
    viewer = Viewer(manager)
    team = [pk for pk in viewer.subtree_user_ids if pk != manager.pk]
    monkeypatch.setattr(visibility, "FEW_OWNERS", len(team) - 1)
    assert [b.dense for b in viewer.branches(("owned",))] == [False, True]
    monkeypatch.setattr(visibility, "FEW_OWNERS", len(team))
    assert not any(b.dense for b in viewer.branches(("owned",)))
    assert len(viewer.branches(("owned",))) == 1 + len(team)
    assert len(viewer.branches(("pooled",))) == len(viewer.member_pool_ids)
    assert Viewer(User.objects.get(username="admin")).branches()[0].dense


def test_one_owners_rows_tested_where_they_stand_match_as_the_search_indexes_do(
    book: dict[str, Any],
) -> None:
    """``row_match`` (a short list tests each row it reads) keeps exactly the rows of
    ``name_filter`` (the indexes): a pair at the start, in the middle and at the end of a
    name, Latin letters in either case, one character, and a pair split by a space."""
    owner = (
        User.objects.annotate(held=Count("customers")).order_by("-held", "pk").values_list("pk")
    )[0][0]
    held = Customer.objects.filter(owner_id=owner).order_by("pk")
    names = [
        "科技园区服务有限公司",
        "杭州云栖科技有限公司",
        "上海创新中心科技",
        "ABC数据有限公司",
        "北京abc网络有限公司",
        "苏州科 技贸易公司",
        "深圳前海龙腾实业有限公司",
    ]
    for customer, name in zip(held, names, strict=False):
        Customer.objects.filter(pk=customer.pk).update(name=name)
    assert held.count() >= len(names)
    for text in ("科技", "技", "Ab", "bc", "龙", "司", "有限", "ab数", "科 技"):
        expected = set(held.filter(name_filter(text)).values_list("pk", flat=True))
        found = set(held.filter(row_match(NameQuery.of(text))).values_list("pk", flat=True))
        assert found == expected, text
    assert len(held.filter(row_match(NameQuery.of("科技")))) >= 3


def test_the_api_and_the_console_page_show_the_rows_of_the_one_statement_filter(
    book: dict[str, Any], client: Any
) -> None:
    manager = User.objects.filter(role=Role.MANAGER, managed_teams__isnull=False).first()
    assert manager is not None
    viewer = Viewer(manager)
    expected = _old(viewer, {"statuses": ("owned",)})
    api = APIClient()
    api.force_authenticate(manager)
    seen: list[int] = []
    url: str | None = "/api/v1/customers/?status=owned&page_size=9"
    while url:
        answer = api.get(url)
        assert answer.status_code == 200, answer.content
        seen += [row["id"] for row in answer.json()["results"]]
        url = answer.json()["next"]
    assert seen == expected
    previous = api.get(answer.json()["previous"]).json()  # back one page from the last
    assert [row["id"] for row in previous["results"]] == expected[
        -9 - len(answer.json()["results"]) : -len(answer.json()["results"])
    ]
    client.force_login(manager)
    page = client.get("/console/customers/")
    assert page.status_code == 200
    shown = [row.id for row in page.context["page"].rows]
    assert shown == _old(viewer, {"statuses": ("owned", "frozen")})[:25]
    rep = book["cover"]
    pool_id = min(Viewer(rep).member_pool_ids)
    client.force_login(rep)
    for query in ("", "&q=有限", "&q=科技&status=all", "&status=owned"):
        pool_page = client.get(f"/pool/?pool={pool_id}{query}")
        assert pool_page.status_code == 200
        status = {"": "pooled", "&q=有限": "pooled", "&status=owned": "owned"}.get(query)
        case = {
            "filters": {"pool_id": pool_id},
            "statuses": None if status is None else (status,),
            "text": query.split("q=")[1].split("&")[0] if "q=" in query else "",
        }
        shown = [row.id for row in pool_page.context["page"].rows]
        assert shown == _old(Viewer(rep), case)[:25], query
