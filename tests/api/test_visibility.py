"""The visibility layer: who sees which customers, and which fields arrive masked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools.models import OwnershipEvent

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


@pytest.fixture
def book(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Customer]:
    return {
        "a_owned": make_customer(
            org["rep_a"], owner=org["rep_a"], phone="13800138000", email="zhang@example.com"
        ),
        "b_owned": make_customer(org["rep_b"], owner=org["rep_b"]),
        "c_owned": make_customer(org["rep_c"], owner=org["rep_c"]),
        "east_pooled": make_customer(
            org["admin"], pool=org["east_pool"], phone="13912345678", email="li@example.com"
        ),
        "south_pooled": make_customer(org["admin"], pool=org["south_pool"]),
    }


def _ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_a_rep_lists_own_customers_and_their_pools(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    assert _ids(api(org["rep_a"]).get("/api/v1/customers/")) == {
        book["a_owned"].pk,
        book["east_pooled"].pk,
    }


def test_the_list_filtered_by_a_pool_shows_that_pools_customers(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    east, south = org["east_pool"].pk, org["south_pool"].pk
    for viewer in ("rep_a", "east_manager", "admin"):
        client = api(org[viewer])
        pooled = _ids(client.get("/api/v1/customers/", {"pool": east, "status": "pooled"}))
        assert pooled == {book["east_pooled"].pk}, viewer
        assert book["east_pooled"].pk in _ids(client.get("/api/v1/customers/", {"pool": east}))
    assert not _ids(api(org["rep_a"]).get("/api/v1/customers/", {"pool": south}))


def test_a_rep_cannot_fetch_another_reps_customer(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    for key in ("b_owned", "c_owned", "south_pooled"):
        response = api(org["rep_a"]).get(f"/api/v1/customers/{book[key].pk}/")
        assert response.status_code == 404
        body = response.json()
        assert (set(body), body["code"]) == ({"code", "detail"}, "not_found")


def test_a_rep_cannot_reach_another_reps_customer_through_filters(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    client = api(org["rep_a"])
    assert _ids(client.get(f"/api/v1/customers/?owner={org['rep_b'].pk}")) == set()
    assert _ids(client.get(f"/api/v1/customers/?q={book['c_owned'].name}")) == set()


def test_a_rep_cannot_edit_another_reps_customer(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{book['b_owned'].pk}/", {"name": "改名"}, format="json"
    )
    assert response.status_code == 404
    book["b_owned"].refresh_from_db()
    assert book["b_owned"].name != "改名"


def test_a_rep_sees_own_customer_in_full(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    body = api(org["rep_a"]).get(f"/api/v1/customers/{book['a_owned'].pk}/").json()
    assert (body["phone"], body["email"], body["masked_fields"]) == (
        "13800138000",
        "zhang@example.com",
        [],
    )


def test_a_rep_sees_pooled_customers_masked(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    client = api(org["rep_a"])
    detail = client.get(f"/api/v1/customers/{book['east_pooled'].pk}/").json()
    listed = next(
        r
        for r in client.get("/api/v1/customers/").json()["results"]
        if r["id"] == book["east_pooled"].pk
    )
    for body in (detail, listed):
        assert body["phone"] == "139****5678"
        assert body["email"] == "l***@example.com"
        assert body["masked_fields"] == ["email", "phone"]
    assert "13912345678" not in client.get("/api/v1/customers/").content.decode()


def test_a_manager_sees_the_team_subtree_in_full(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    client = api(org["east_manager"])
    assert _ids(client.get("/api/v1/customers/")) == {
        book["a_owned"].pk,
        book["b_owned"].pk,
        book["east_pooled"].pk,
    }
    body = client.get(f"/api/v1/customers/{book['a_owned'].pk}/").json()
    assert body["phone"] == "13800138000"


def test_a_manager_above_two_teams_sees_both(
    org: dict[str, Any], book: dict[str, Customer], make_user: Callable[..., User], api: Api
) -> None:
    head_manager = make_user("manager", "mgr_head", team=org["head"])
    org["head"].manager = head_manager
    org["head"].save()
    assert {book["a_owned"].pk, book["b_owned"].pk, book["c_owned"].pk} <= _ids(
        api(head_manager).get("/api/v1/customers/")
    )


def test_an_admin_sees_everything(org: dict[str, Any], book: dict[str, Customer], api: Api) -> None:
    assert _ids(api(org["admin"]).get("/api/v1/customers/")) == {c.pk for c in book.values()}


def test_a_rep_registers_a_customer_as_their_own(org: dict[str, Any], api: Api) -> None:
    response = api(org["rep_a"]).post(
        "/api/v1/customers/",
        {
            "name": "杭州云帆网络科技有限公司",
            "phone": "13700001111",
            "province": "浙江",
            "city": "杭州",
            "industry": "软件和信息技术服务",
            "source": "referral",
            "pool": org["east_pool"].pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["owner"], body["pool"]) == (
        "owned",
        org["rep_a"].pk,
        org["east_pool"].pk,
    )
    event = OwnershipEvent.objects.get(customer_id=body["id"])
    assert (event.kind, event.to_owner_id, event.actor_id) == (
        "created",
        org["rep_a"].pk,
        org["rep_a"].pk,
    )


def test_a_rep_cannot_register_a_customer_for_someone_else(org: dict[str, Any], api: Api) -> None:
    response = api(org["rep_a"]).post(
        "/api/v1/customers/", {"name": "代建客户", "owner": org["rep_b"].pk}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Customer.objects.filter(name="代建客户").exists()
    assert not OwnershipEvent.objects.exists()


def test_a_rep_cannot_put_a_customer_in_a_foreign_pool(org: dict[str, Any], api: Api) -> None:
    response = api(org["rep_a"]).post(
        "/api/v1/customers/", {"name": "越界客户", "pool": org["south_pool"].pk}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_pool_member"
    assert not Customer.objects.filter(name="越界客户").exists()


def test_a_rep_lists_only_pools_they_belong_to(org: dict[str, Any], api: Api) -> None:
    names = {p["name"] for p in api(org["rep_a"]).get("/api/v1/pools/").json()["results"]}
    assert names == {"华东公海"}


def test_a_rep_lists_only_their_team_as_users(org: dict[str, Any], api: Api) -> None:
    users = {u["username"] for u in api(org["rep_a"]).get("/api/v1/users/").json()["results"]}
    assert users == {"rep_a", "rep_b", "mgr_east"}


# --- the role × path table: every sub-resource, report and preview ------------------------------

ROLES = ["admin", "east_manager", "south_manager", "rep_a", "rep_b", "rep_c"]
# admin; the manager of the owner's team; a manager of another team; the owner; another rep of
# the pool; a rep outside the pool.
X_NOTE, X_DEAL, X_CONTACT = "客户手机 13711119999", "秘密报价甲", "13622223333"
P_NOTE, P_DEAL, P_CONTACT = "前任记录 13755556666", "秘密报价乙", "13644445555"
P_PHONE = "13912340000"


@pytest.fixture
def timeline_book(
    org: dict[str, Any], make_customer: Callable[..., Customer], api: Api
) -> dict[str, Customer]:
    """X: REP_A's customer of the east pool, given by a rule, with a follow-up, a deal, a contact
    and a notification; P: a pooled customer of the east pool with the same kind of history."""
    from highseas.notify.services import notify
    from highseas.pools import followups, ownership
    from highseas.pools.models import RecyclePolicy

    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7, warn_days=3)
    x = make_customer(org["admin"], pool=org["east_pool"], province="广东", name="甲方客户")
    rule = {
        "name": "广东给REP_A",
        "position": 1,
        "pool": org["east_pool"].pk,
        "conditions": {"field": "province", "op": "in", "value": ["广东"]},
        "target": {"user": org["rep_a"].pk},
    }
    admin = api(org["admin"])
    assert admin.post("/api/v1/assignment-rules/", rule, format="json").status_code == 201
    run = admin.post(
        "/api/v1/assignment-runs/", {"dry_run": False, "pool": org["east_pool"].pk}, format="json"
    )
    assert [e["customer"] for e in run.json()["assigned"]] == [x.pk]
    followups.log_activity(org["rep_a"], x.pk, kind="call", note=X_NOTE)
    followups.open_deal(org["rep_a"], x.pk, amount=1000, name=X_DEAL)
    followups.add_contact(org["rep_a"], x.pk, name="甲总", phones=[X_CONTACT])
    notify(org["rep_a"].pk, "recycle_warning", "甲方客户 will go back", customer_id=x.pk)
    p = make_customer(
        org["rep_a"],
        owner=org["rep_a"],
        pool=org["east_pool"],
        province="广东",
        name="乙方客户",
        phone=P_PHONE,
    )
    followups.log_activity(org["rep_a"], p.pk, kind="call", note=P_NOTE)
    followups.open_deal(org["rep_a"], p.pk, amount=2000, name=P_DEAL)
    followups.add_contact(org["rep_a"], p.pk, name="乙总", phones=[P_CONTACT])
    ownership.release(org["rep_a"], p.pk, reason="暂无需求")
    return {"x": x, "p": p}


def _request(what: str, org: dict[str, Any], book: dict[str, Customer]) -> tuple[str, str, Any]:
    x, p, east = book["x"].pk, book["p"].pk, org["east_pool"].pk
    future = (timezone.now() + timedelta(days=30)).isoformat()
    requests = {
        "sweep preview": ("post", "/api/v1/sweeps/", {"dry_run": True, "now": future}),
        "recycle preview": (
            "post",
            f"/api/v1/pools/{east}/recycle-preview/",
            {"recycle_policy": {"idle_days": 1}, "days": 7},
        ),
        "assignment run preview": (
            "post",
            "/api/v1/assignment-runs/",
            {"dry_run": True, "pool": east},
        ),
        "explain": ("get", f"/api/v1/customers/{x}/explain/", None),
        "activities of an owned customer": ("get", f"/api/v1/customers/{x}/activities/", None),
        "activities of a pooled customer": ("get", f"/api/v1/customers/{p}/activities/", None),
        "deals of an owned customer": ("get", f"/api/v1/customers/{x}/deals/", None),
        "deals of a pooled customer": ("get", f"/api/v1/customers/{p}/deals/", None),
        "contacts of an owned customer": ("get", f"/api/v1/customers/{x}/contacts/", None),
        "contacts of a pooled customer": ("get", f"/api/v1/customers/{p}/contacts/", None),
        "history of an owned customer": ("get", f"/api/v1/customers/{x}/ownership/", None),
        "history of a pooled customer": ("get", f"/api/v1/customers/{p}/ownership/", None),
        "notifications": ("get", "/api/v1/notifications/", None),
    }
    return requests[what]


# path: (what must appear for a viewer who may see it, {role: (status, appears)})
F, M = True, False  # in full / not at all
DENIED, HIDDEN = (403, M), (404, M)
TABLE: dict[str, tuple[str, dict[str, tuple[int, bool]]]] = {
    "sweep preview": (
        "甲方客户",
        {"admin": (200, F), "east_manager": (200, F), "south_manager": (200, M)}
        | {rep: DENIED for rep in ("rep_a", "rep_b", "rep_c")},
    ),
    "recycle preview": (
        "甲方客户",
        {"admin": (200, F), "east_manager": (200, F), "south_manager": HIDDEN}
        | {rep: DENIED for rep in ("rep_a", "rep_b", "rep_c")},
    ),
    "assignment run preview": (
        "乙方客户",
        {"admin": (200, F), "east_manager": (200, F), "south_manager": DENIED}
        | {rep: DENIED for rep in ("rep_a", "rep_b", "rep_c")},
    ),
    "explain": (
        "广东给REP_A",
        {"admin": (200, F), "east_manager": (200, F), "south_manager": HIDDEN, "rep_a": (200, F)}
        | {"rep_b": HIDDEN, "rep_c": HIDDEN},
    ),
    "activities of an owned customer": (
        X_NOTE,
        {"admin": (200, F), "east_manager": (200, F), "south_manager": HIDDEN, "rep_a": (200, F)}
        | {"rep_b": HIDDEN, "rep_c": HIDDEN},
    ),
    "activities of a pooled customer": (
        P_NOTE,
        {"admin": (200, F), "east_manager": (200, M), "south_manager": HIDDEN, "rep_a": (200, M)}
        | {"rep_b": (200, M), "rep_c": HIDDEN},
    ),
    "deals of an owned customer": (
        X_DEAL,
        {"admin": (200, F), "east_manager": (200, F), "south_manager": HIDDEN, "rep_a": (200, F)}
        | {"rep_b": HIDDEN, "rep_c": HIDDEN},
    ),
    "deals of a pooled customer": (
        P_DEAL,
        {"admin": (200, F), "east_manager": (200, M), "south_manager": HIDDEN, "rep_a": (200, M)}
        | {"rep_b": (200, M), "rep_c": HIDDEN},
    ),
    "contacts of an owned customer": (
        X_CONTACT,
        {"admin": (200, F), "east_manager": (200, F), "south_manager": HIDDEN, "rep_a": (200, F)}
        | {"rep_b": HIDDEN, "rep_c": HIDDEN},
    ),
    "contacts of a pooled customer": (
        P_CONTACT,
        {"admin": (200, F), "east_manager": (200, M), "south_manager": HIDDEN, "rep_a": (200, M)}
        | {"rep_b": (200, M), "rep_c": HIDDEN},
    ),
    "history of an owned customer": (
        "暂无需求",  # P's release reason: never part of X's history
        {"admin": (200, M), "east_manager": (200, M), "south_manager": HIDDEN, "rep_a": (200, M)}
        | {"rep_b": HIDDEN, "rep_c": HIDDEN},
    ),
    "history of a pooled customer": (
        "暂无需求",
        {"admin": (200, F), "east_manager": (200, F), "south_manager": HIDDEN, "rep_a": (200, F)}
        | {"rep_b": (200, F), "rep_c": HIDDEN},
    ),
    "notifications": (
        "甲方客户",
        {role: (200, M) for role in ROLES} | {"rep_a": (200, F)},
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("what", list(TABLE))
def test_every_sub_resource_report_and_preview_answers_each_role_as_the_table_says(
    org: dict[str, Any], timeline_book: dict[str, Customer], api: Api, what: str, role: str
) -> None:
    method, path, body = _request(what, org, timeline_book)
    response = getattr(api(org[role]), method)(path, body, format="json")
    text = response.content.decode()
    marker, expected = TABLE[what]
    assert (response.status_code, marker in text) == expected[role], text[:300]
    assert P_PHONE not in text and "+86" + P_PHONE not in text


def test_the_table_covers_every_role_on_every_path() -> None:
    assert all(set(row) == set(ROLES) for _, row in TABLE.values())
    assert len(TABLE) == 13
