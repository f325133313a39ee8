"""The console's type-ahead rep picker (选择负责人): ``GET /api/v1/reps/?q=`` through
``pools.receivers``, and the customer list, bulk bar and sweep page that use it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import AuditLog, Role, Team, User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.pools import receivers as picker
from highseas.pools.models import OwnershipEvent
from highseas.pools.receivers import PICK_LIMIT, find_receivers, resolve_receiver
from tests.web.pages import html, messages_of, signed_in

pytestmark = pytest.mark.django_db

Api = Callable[[User | None], APIClient]


@pytest.fixture
def people(
    org: dict[str, Any], make_user: Callable[..., User], make_team: Callable[..., Team]
) -> dict[str, Any]:
    """Chinese-named reps on both sides: 陈静 and 陈晶 in the east (陈静 in a sub-team),
    陈东 in the south, an inactive east rep and a second admin."""
    east_north = make_team("华东北区", parent=org["east"])
    gone = make_user(Role.REP, "gone", display_name="陈走", team=org["east"])
    User.objects.filter(pk=gone.pk).update(is_active=False)
    return {
        **org,
        "chen_jing": make_user(Role.REP, "chenjing", display_name="陈静", team=east_north),
        "chen_jing2": make_user(Role.REP, "cj2", display_name="陈晶", team=org["east"]),
        "chen_dong": make_user(Role.REP, "chendong", display_name="陈东", team=org["south"]),
        "admin2": make_user(Role.ADMIN, "boss2", display_name="陈总", team=org["east"]),
    }


def _ids(client: APIClient, q: str) -> list[int]:
    response = client.get("/api/v1/reps/", {"q": q})
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_a_rep_is_refused_the_picker_with_a_stable_code(people: dict[str, Any], api: Api) -> None:
    response = api(people["rep_a"]).get("/api/v1/reps/", {"q": "陈"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "陈" not in response.content.decode()
    anonymous = api(None).get("/api/v1/reps/", {"q": "陈"})
    assert anonymous.status_code in (401, 403)
    assert anonymous.json()["code"] == "not_authenticated"


def test_a_rep_signed_in_on_the_web_is_refused_too(people: dict[str, Any]) -> None:
    response = signed_in(people["rep_a"]).get("/api/v1/reps/", {"q": "陈"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_manager_never_sees_reps_outside_their_subtree(people: dict[str, Any], api: Api) -> None:
    client = api(people["east_manager"])
    east = {people[n].pk for n in ("chen_jing", "chen_jing2")}
    assert set(_ids(client, "陈")) == east  # not 陈东 (south), 陈走 (inactive), 陈总 (admin)
    assert set(_ids(client, "chen")) == east
    assert _ids(client, "chendong") == [] and _ids(client, "rep_c") == []
    everyone = set(_ids(client, ""))
    assert people["rep_c"].pk not in everyone and people["chen_dong"].pk not in everyone
    assert everyone == {
        people[n].pk for n in ("east_manager", "rep_a", "rep_b", "chen_jing", "chen_jing2")
    }
    south = api(people["south_manager"])
    assert _ids(south, "陈") == [people["chen_dong"].pk]
    assert set(_ids(api(people["admin"]), "陈")) == east | {people["chen_dong"].pk}


def test_the_picker_finds_by_pinyin_initials_and_username_best_match_first(
    people: dict[str, Any], api: Api
) -> None:
    client = api(people["east_manager"])
    jing, jing2 = people["chen_jing"].pk, people["chen_jing2"].pk
    assert set(_ids(client, "chenjing")) == {jing, jing2}  # 陈静 and 陈晶 read alike
    assert set(_ids(client, "Chen Jing")) == {jing, jing2}  # spaces and case do not count
    assert set(_ids(client, "cj")) == {jing, jing2}
    assert _ids(client, "cj2") == [jing2]  # 陈晶's username, exact, before …
    assert _ids(client, "cj")[:1] == [jing2]  # … and 陈晶 exact on initials and username
    assert _ids(client, "陈晶") == [jing2]
    assert _ids(client, "jing") == [jing2, jing]  # contains, in team order (east first)
    assert _ids(client, "rep_") == [people["rep_a"].pk, people["rep_b"].pk]
    assert _ids(client, "ep_b") == [people["rep_b"].pk]  # contains
    assert _ids(client, "zzz") == []


def test_the_picker_counts_holdings_of_the_shown_reps(world: dict[str, Any], api: Api) -> None:
    rows = api(world["east_manager"]).get("/api/v1/reps/", {"q": "rep_"}).json()["results"]
    held = {
        row["id"]: Customer.objects.filter(
            owner_id=row["id"], status__in=["owned", "frozen"]
        ).count()
        for row in rows
    }
    assert {row["id"]: row["holdings"] for row in rows} == held
    assert held[world["rep_a"].pk] > 0 and held[world["rep_b"].pk] > 0
    assert rows[0] == {
        "id": world["rep_a"].pk,
        "label": "REP_A",
        "username": "rep_a",
        "team": "华东销售部",
        "holdings": held[world["rep_a"].pk],
    }


def test_the_picker_lists_at_most_twenty(org: dict[str, Any], make_user: Any, api: Api) -> None:
    for n in range(PICK_LIMIT + 5):
        make_user(Role.REP, f"east{n:02d}", display_name=f"王{n:02d}", team=org["east"])
    client = api(org["east_manager"])
    assert len(_ids(client, "")) == PICK_LIMIT
    assert len(_ids(client, "wang")) == PICK_LIMIT
    assert len(client.get("/api/v1/reps/", {"q": "w", "limit": 500}).json()["results"]) == 20
    assert len(client.get("/api/v1/reps/", {"q": "w", "limit": 3}).json()["results"]) == 3


def test_resolving_typed_words_needs_exactly_one_rep(people: dict[str, Any]) -> None:
    viewer = Viewer(people["east_manager"])
    assert resolve_receiver(viewer, "陈静").id == people["chen_jing"].pk
    assert resolve_receiver(viewer, "CJ2").id == people["chen_jing2"].pk
    assert resolve_receiver(viewer, "rep_b").id == people["rep_b"].pk  # exact, not rep_a
    assert resolve_receiver(viewer, "ep_b").id == people["rep_b"].pk  # the only match
    with pytest.raises(HighSeasError) as several:
        resolve_receiver(viewer, "chenjing")  # 陈静 and 陈晶 read alike
    assert several.value.facts["errors"] == {"owner": ["ambiguous"]}
    with pytest.raises(HighSeasError) as outside:
        resolve_receiver(viewer, "陈东")
    assert outside.value.facts["errors"] == {"owner": ["no_match"]}
    with pytest.raises(HighSeasError) as rep:
        find_receivers(Viewer(people["rep_a"]), "陈")
    assert rep.value.code == "permission_denied"


# --- matching in the database ------------------------------------------------------------


def _ranked_in_python(viewer: Viewer, text: str, limit: int = PICK_LIMIT) -> list[int]:
    """The picker's former ranking, as the reference: every person the viewer may pick read
    in team and name order and ranked in Python on the same keys (0 exact, 1 prefix, 2
    contains), stable on that order, the first ``limit`` kept."""
    wanted = picker._key(text)
    ranked = []
    for order, (pk, username, name) in enumerate(
        picker.receivers(viewer).values_list("pk", "username", "display_name")
    ):
        keys = picker._keys(username, name)
        if wanted in keys:
            ranked.append((0, order, pk))
        elif any(key.startswith(wanted) for key in keys):
            ranked.append((1, order, pk))
        elif any(wanted in key for key in keys):
            ranked.append((2, order, pk))
    return [pk for _rank, _order, pk in sorted(ranked)[:limit]]


@pytest.fixture
def crowd(org: dict[str, Any], make_user: Any, make_team: Any) -> dict[str, Any]:
    """Forty-odd people whose names, usernames, pinyin and initials overlap on purpose:
    homophones (陈静/陈晶/程静), names that are another's prefix (王/王芳/王芳芳), Latin
    display names, usernames holding other names' pinyin, and an unnamed person."""
    north = make_team("华东北区", parent=org["east"])
    names = [
        ("chenjing", "陈静"),
        ("cj", "陈晶"),
        ("chengjing", "程静"),
        ("jingchen", "景晨"),
        ("wang", "王"),
        ("wangfang", "王芳"),
        ("wff", "王芳芳"),
        ("fangwang", "方望"),
        ("lily", "Lily Chen"),
        ("chen_l", "LILY"),
        ("zhangwei", "张伟"),
        ("zw", "章巍"),
        ("zhangwei2", "张伟"),
        ("weizhang", "魏章"),
        ("li", "李"),
        ("lili", "李丽"),
        ("liliang", "李亮"),
        ("noname", ""),
        ("a_b", "阿宝"),
        ("ab", "AB"),
    ]
    for n, (username, name) in enumerate(names):
        make_user(Role.REP, username, display_name=name, team=north if n % 3 else org["east"])
    for n in range(PICK_LIMIT + 5):
        make_user(Role.REP, f"chen{n:02d}", display_name=f"陈{n:02d}", team=org["east"])
    return org


QUERIES = (
    "陈",
    "chen",
    "Chen",
    "chenjing",
    "cj",
    "c",
    "j",
    "jing",
    "王",
    "wang",
    "wangfang",
    "wf",
    "wff",
    "fang",
    "zw",
    "zhangwei",
    "wei",
    "li",
    "lili",
    "Lily",
    "lily chen",
    "l",
    "a",
    "ab",
    "a_b",
    "_",
    "%",
    "0",
    "01",
    "陈0",
    "n",
    "noname",
    "zzz",
    "静",
    "程",
    "xyz",
)


def test_the_database_ranks_exactly_as_the_python_ranking_did(crowd: dict[str, Any]) -> None:
    for who in ("east_manager", "admin"):
        viewer = Viewer(crowd[who])
        for text in QUERIES:
            for limit in (PICK_LIMIT, 3):
                expected = _ranked_in_python(viewer, text, limit)
                found = [row.id for row in find_receivers(viewer, text, limit=limit)]
                assert found == expected, (who, text, limit)
    # the cap: a query matching more than twenty gives the best twenty, exact ones first
    viewer = Viewer(crowd["east_manager"])
    chen = [row.username for row in find_receivers(viewer, "chen")]
    assert len(chen) == PICK_LIMIT
    assert len(_ranked_in_python(viewer, "chen", 500)) > PICK_LIMIT
    assert [row.username for row in find_receivers(viewer, "wang")][:1] == ["wang"]  # exact


def test_the_picker_reads_only_the_people_it_shows(
    crowd: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = Viewer(crowd["admin"])
    find_receivers(viewer, "x")  # the keys of everyone computed once
    read: list[int] = []
    rows_of = picker._rows

    def counted(people: Any) -> Any:
        rows = rows_of(people)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(picker, "_rows", counted)
    in_scope = picker.receivers(viewer).count()
    assert in_scope > 40
    with CaptureQueriesContext(connection) as queries:
        shown = find_receivers(viewer, "c")  # matches most of them
    assert len(shown) == PICK_LIMIT and read == [PICK_LIMIT]
    assert len(queries) == 4  # stale keys (none), the first twenty, their rows, holdings
    assert "LIMIT 20" in queries[1]["sql"].upper()
    assert not any(q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE")) for q in queries)


def test_a_renamed_person_is_found_by_the_new_name_only(crowd: dict[str, Any]) -> None:
    viewer = Viewer(crowd["east_manager"])
    person = User.objects.get(username="zw")
    assert person.pk in [row.id for row in find_receivers(viewer, "zhangwei")]
    User.objects.filter(pk=person.pk).update(display_name="赵敏", username="zm")
    assert picker.refresh_keys() == 1
    assert person.pk not in [row.id for row in find_receivers(viewer, "zhangwei")]
    assert [row.id for row in find_receivers(viewer, "zhaomin")] == [person.pk]
    assert [row.id for row in find_receivers(viewer, "zm")] == [person.pk]
    assert picker.refresh_keys() == 0
    newcomer = User.objects.create(username="xinren", display_name="辛仁", team=crowd["east"])
    assert [row.id for row in find_receivers(viewer, "xr")] == [newcomer.pk]


def test_resolving_agrees_with_the_ranking(crowd: dict[str, Any]) -> None:
    viewer = Viewer(crowd["east_manager"])
    assert resolve_receiver(viewer, "王").username == "wang"  # exact, though 王芳 starts so
    assert resolve_receiver(viewer, "wff").username == "wff"  # username and initials, one
    with pytest.raises(HighSeasError) as several:
        resolve_receiver(viewer, "zhangwei")  # two 张伟, exact both
    assert several.value.facts["errors"] == {"owner": ["ambiguous"]}
    with pytest.raises(HighSeasError) as wildcard:
        resolve_receiver(viewer, "%")  # a LIKE wildcard is a plain character
    assert wildcard.value.facts["errors"] == {"owner": ["no_match"]}


# --- the pages ---------------------------------------------------------------------------


def _options(page: str, select_id: str) -> list[str]:
    select = re.search(rf'<select id="{select_id}".*?</select>', page, re.S)
    assert select is not None, select_id
    return re.findall(r'<option value="(\d*)"', select.group(0))


def test_the_customer_list_renders_no_full_rep_list(world: dict[str, Any], make_user: Any) -> None:
    extra = [
        make_user(Role.REP, f"east{n:02d}", display_name=f"王{n:02d}", team=world["east"])
        for n in range(PICK_LIMIT + 5)
    ]
    last = extra[-1]
    page = html(signed_in(world["east_manager"]).get(f"/console/customers/?owner={last.pk}"))
    owners = _options(page, "t-owner")
    assert owners[0] == "" and owners[1] == str(last.pk)  # "All", then the picked rep
    assert len(owners) == 1 + 1 + PICK_LIMIT
    assert len(_options(page, "bulk-owner")) == 1 + PICK_LIMIT
    assert 'data-url="/api/v1/reps/"' in page and "rep_picker.js" in page
    assert str(world["rep_c"].pk) not in owners


def test_the_customer_list_filters_by_a_typed_name_without_javascript(
    world: dict[str, Any],
) -> None:
    client = signed_in(world["east_manager"])
    page = html(client.get("/console/customers/", {"owner_q": "rep_b"}))
    assert world["held_b"][1].name in page and world["held_a"][0].name not in page
    assert _options(page, "t-owner")[1] == str(world["rep_b"].pk)
    outside = html(client.get("/console/customers/", {"owner_q": "rep_c"}))
    assert "data-rep-error" in outside


def test_a_forged_owner_outside_the_scope_is_refused_by_the_bulk_bar(
    world: dict[str, Any],
) -> None:
    held = world["held_a"][1]
    client = signed_in(world["east_manager"])
    audits, events = AuditLog.objects.count(), OwnershipEvent.objects.count()
    for forged in ({"owner": world["rep_c"].pk}, {"owner_q": "rep_c"}, {"owner_q": "rep_"}):
        response = client.post(
            "/console/customers/bulk/",
            {"ids": [held.pk], "action": "give", **forged},
            follow=True,
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 200
        assert Customer.objects.get(pk=held.pk).owner == world["rep_a"]
        assert messages_of(response)
    assert (AuditLog.objects.count(), OwnershipEvent.objects.count()) == (audits, events)


def test_the_existing_error_refuses_a_forged_owner(world: dict[str, Any]) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world["east_manager"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/console/"})
    response = client.post(
        "/console/customers/bulk/",
        {"ids": [world["held_a"][1].pk], "action": "give", "owner": world["rep_c"].pk},
        follow=True,
    )
    assert messages_of(response) == [
        "Select a valid choice. That choice is not one of the available choices."
    ]


def test_a_bulk_assign_through_the_picker_works(world: dict[str, Any], api: Api) -> None:
    ids = [world["held_a"][1].pk, world["held_a"][3].pk]
    found = api(world["east_manager"]).get("/api/v1/reps/", {"q": "REPB"}).json()["results"]
    assert found == []  # a typo finds nobody
    found = api(world["east_manager"]).get("/api/v1/reps/", {"q": "rep_b"}).json()["results"]
    assert [row["id"] for row in found] == [world["rep_b"].pk]
    client = signed_in(world["east_manager"])
    client.post("/console/customers/bulk/", {"ids": ids, "action": "give", "owner": found[0]["id"]})
    assert set(Customer.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {
        world["rep_b"].pk
    }
    # without JavaScript: the typed name, resolved by the server
    back = [world["held_b"][1].pk]
    client.post("/console/customers/bulk/", {"ids": back, "action": "give", "owner_q": "REP_A"})
    assert Customer.objects.get(pk=back[0]).owner == world["rep_a"]


def test_the_sweep_page_picks_a_rep_and_refuses_one_outside(world: dict[str, Any]) -> None:
    at = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    client = signed_in(world["east_manager"])
    everyone = html(client.get("/console/sweep/", {"at": at}))
    assert "苏州博远电子有限公司" in everyone
    typed = html(client.get("/console/sweep/", {"at": at, "owner_q": "rep_b"}))
    assert "苏州博远电子有限公司" not in typed and 'data-sweep="recycled"' in typed
    assert _options(typed, "id_owner")[1] == str(world["rep_b"].pk)
    forged = html(client.get("/console/sweep/", {"at": at, "owner": world["rep_c"].pk}))
    assert 'data-sweep="recycled"' not in forged and "data-rep-error" in forged
    assert str(world["rep_c"].pk) not in _options(forged, "id_owner")


def test_the_customer_page_gives_through_the_picker(world: dict[str, Any], make_user: Any) -> None:
    for n in range(PICK_LIMIT + 5):
        make_user(Role.REP, f"east{n:02d}", display_name=f"王{n:02d}", team=world["east"])
    held = world["held_a"][1]
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world["east_manager"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/console/"})
    page = html(client.get(f"/customers/{held.pk}/"))
    assert len(_options(page, "give-owner")) == 1 + PICK_LIMIT
    url = f"/customers/{held.pk}/give/"
    refused = client.post(url, {"owner_q": "rep_c"}, follow=True)
    assert messages_of(refused) == ["No rep matches “rep_c”."]
    forged = client.post(url, {"owner": world["rep_c"].pk}, follow=True)
    assert messages_of(forged) == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert Customer.objects.get(pk=held.pk).owner == world["rep_a"]
    given = client.post(url, {"owner_q": "王24"}, follow=True)
    assert messages_of(given) == [f"{held.name} now belongs to 王24."]
    assert Customer.objects.get(pk=held.pk).owner.username == "east24"


def _new_customer(name: str, **owner: Any) -> dict[str, Any]:
    return {"name": name, "kind": "company", "level": "B", "source": "referral", **owner}


def test_a_manager_names_the_owner_of_a_new_customer_through_the_picker(
    world: dict[str, Any], make_user: Any
) -> None:
    for n in range(PICK_LIMIT + 5):
        make_user(Role.REP, f"east{n:02d}", display_name=f"王{n:02d}", team=world["east"])
    client = signed_in(world["east_manager"])
    page = html(client.get("/customers/new/"))
    assert len(_options(page, "id_owner")) == 1 + PICK_LIMIT
    assert "rep_picker.js" not in html(signed_in(world["rep_a"]).get("/customers/new/"))
    pool = {"pool": world["east_pool"].pk}
    for forged in ({"owner": world["rep_c"].pk}, {"owner_q": "rep_c"}):
        refused = client.post("/customers/new/", {**_new_customer("宁波伪造有限公司"), **forged})
        assert refused.status_code == 200 and "data-rep-error" in refused.content.decode()
    assert not Customer.objects.filter(name="宁波伪造有限公司").exists()
    client.post("/customers/new/", {**_new_customer("宁波真实有限公司", owner_q="wang24"), **pool})
    created = Customer.objects.get(name="宁波真实有限公司")
    assert (created.owner.username, created.status) == ("east24", "owned")
