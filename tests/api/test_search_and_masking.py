"""A rep never receives a masked field unmasked, by any path; reveals are allowed to the right
roles only, and every reveal (or refused reveal) is logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from highseas.accounts.models import AuditLog, User
from highseas.customers.models import Customer
from highseas.pools.followups import add_contact, log_activity, open_deal
from highseas.pools.models import Pool

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]

POOLED = {
    "name": "杭州西湖数据科技有限公司",
    "phone": "139-1234-5678",
    "email": "li@secret.cn",
    "credit_code": "91330100799655058B",
    "address": "西湖区文三路1号",
}
TEAMMATES = {"name": "杭州钱塘智能制造有限公司", "phone": "13711112222", "email": "wang@hidden.cn"}
CONTACT = {"name": "李总", "phones": ["136-9876-5432"], "email": "boss@secret.cn"}
PRIVATE = [
    "13912345678",
    "139-1234-5678",
    "+8613912345678",
    "li@secret.cn",
    "91330100799655058B",
    "西湖区文三路1号",
    "13711112222",
    "+8613711112222",
    "wang@hidden.cn",
    "13698765432",
    "136-9876-5432",
    "boss@secret.cn",
]


@pytest.fixture
def book(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Customer]:
    pool: Pool = org["east_pool"]
    pool.masked_fields = ["phone", "email", "credit_code", "address", "contacts"]
    pool.save(update_fields=["masked_fields"])
    pooled = make_customer(org["admin"], pool=pool, **POOLED)
    add_contact(org["admin"], pooled.pk, **CONTACT)
    log_activity(org["admin"], pooled.pk, kind="call", note=f"回电 {POOLED['phone']}")
    open_deal(org["admin"], pooled.pk, amount=100, name=f"联系 {POOLED['email']}")
    return {
        "pooled": pooled,
        "teammates": make_customer(org["rep_b"], owner=org["rep_b"], pool=pool, **TEAMMATES),
        "own": make_customer(
            org["rep_a"], owner=org["rep_a"], pool=pool, name="宁波港口物流有限公司"
        ),
    }


def _paths(book: dict[str, Customer]) -> list[tuple[str, str, str, dict[str, Any] | None, int]]:
    """(what, method, path, body, expected status): every way a rep may ask."""
    pooled, teammates = book["pooled"].pk, book["teammates"].pk
    return [
        ("list", "get", "/api/v1/customers/", None, 200),
        ("list filtered", "get", "/api/v1/customers/?q=杭州", None, 200),
        ("detail", "get", f"/api/v1/customers/{pooled}/", None, 200),
        ("another rep's detail", "get", f"/api/v1/customers/{teammates}/", None, 404),
        ("contacts", "get", f"/api/v1/customers/{pooled}/contacts/", None, 200),
        ("ownership history", "get", f"/api/v1/customers/{pooled}/ownership/", None, 200),
        ("activities", "get", f"/api/v1/customers/{pooled}/activities/", None, 200),
        ("deals", "get", f"/api/v1/customers/{pooled}/deals/", None, 200),
        ("explain", "get", f"/api/v1/customers/{pooled}/explain/", None, 404),
        ("notifications", "get", "/api/v1/notifications/", None, 200),
        ("sweep refused", "post", "/api/v1/sweeps/", {"dry_run": True}, 403),
        (
            "recycle preview refused",
            "post",
            f"/api/v1/pools/{book['pooled'].pool_id}/recycle-preview/",
            {},
            403,
        ),
        ("assignment run refused", "post", "/api/v1/assignment-runs/", {"dry_run": True}, 403),
        ("public search by name", "get", "/api/v1/search/?q=有限公司", None, 200),
        ("public search by core name", "get", "/api/v1/search/?q=西湖数据", None, 200),
        (
            "check duplicates",
            "post",
            "/api/v1/customers/check-duplicates/",
            {"name": TEAMMATES["name"]},
            200,
        ),
        (
            "duplicate error",
            "post",
            "/api/v1/customers/",
            {"name": POOLED["name"], "phone": "18600001111"},
            409,
        ),
        ("already_owned error", "post", f"/api/v1/customers/{teammates}/claim/", {}, 409),
        (
            "duplicate error on edit",
            "patch",
            f"/api/v1/customers/{book['own'].pk}/",
            {"name": "钱塘智能制造（杭州）有限公司"},
            409,
        ),
        ("edit refused", "patch", f"/api/v1/customers/{pooled}/", {"industry": "x"}, 403),
        ("reveal refused", "post", f"/api/v1/customers/{pooled}/reveal/", {"field": "phone"}, 403),
        ("merge refused", "post", f"/api/v1/customers/{pooled}/merge/", {"other": teammates}, 403),
    ]


PATHS = [
    "list",
    "list filtered",
    "detail",
    "another rep's detail",
    "contacts",
    "ownership history",
    "activities",
    "deals",
    "explain",
    "notifications",
    "sweep refused",
    "recycle preview refused",
    "assignment run refused",
    "public search by name",
    "public search by core name",
    "check duplicates",
    "duplicate error",
    "already_owned error",
    "duplicate error on edit",
    "edit refused",
    "reveal refused",
    "merge refused",
]


@pytest.mark.parametrize("what", PATHS)
def test_a_rep_never_receives_a_masked_field_unmasked(
    org: dict[str, Any], book: dict[str, Customer], api: Api, what: str
) -> None:
    _, method, path, body, expected = next(p for p in _paths(book) if p[0] == what)
    response = getattr(api(org["rep_a"]), method)(path, body, format="json")
    assert response.status_code == expected, response.content
    text = response.content.decode()
    leaked = [value for value in PRIVATE if value in text]
    assert leaked == []


def test_the_table_covers_every_path() -> None:
    assert len(PATHS) == len(set(PATHS)) == 22


def test_the_owner_sees_the_same_paths_in_full(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    """The control: the table above would catch a leak, since the owner does get the values."""
    body = api(org["rep_b"]).get(f"/api/v1/customers/{book['teammates'].pk}/").json()
    assert (body["phone"], body["email"]) == ("13711112222", "wang@hidden.cn")


def test_pooled_details_arrive_masked_not_hidden(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    body = api(org["rep_a"]).get(f"/api/v1/customers/{book['pooled'].pk}/").json()
    assert (body["phone"], body["email"], body["credit_code"], body["address"]) == (
        "139****5678",
        "l***@secret.cn",
        "9***",
        "西***",
    )
    contact = api(org["rep_a"]).get(f"/api/v1/customers/{book['pooled'].pk}/contacts/").json()[0]
    assert (contact["phones"], contact["email"]) == (["136****5432"], "b***@secret.cn")


def test_public_search_shows_basic_fields_and_status_of_any_customer(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    rows = api(org["rep_c"]).get("/api/v1/search/?q=有限公司").json()["results"]
    assert {row["id"]: row["status"] for row in rows} == {
        book["pooled"].pk: "unassigned",
        book["teammates"].pk: "owned",
        book["own"].pk: "owned",
    }
    assert set(rows[0]) == {"id", "name", "province", "city", "industry", "level", "status"}


def test_public_search_by_phone_finds_the_customer_without_showing_the_phone(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    rows = api(org["rep_c"]).get("/api/v1/search/", {"q": "+86 137 1111 2222"}).json()["results"]
    assert [(row["id"], row["name"]) for row in rows] == [(book["teammates"].pk, TEAMMATES["name"])]
    assert "phone" not in rows[0]


def test_a_released_customer_shows_as_recycled(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    api(org["rep_b"]).post(
        f"/api/v1/customers/{book['teammates'].pk}/release/", {"reason": "不跟了"}, format="json"
    )
    rows = api(org["rep_c"]).get("/api/v1/search/", {"q": "钱塘智能"}).json()["results"]
    assert [row["status"] for row in rows] == ["recycled"]


def test_public_search_pages_carry_a_cursor(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    client = api(org["rep_c"])
    first = client.get("/api/v1/search/", {"q": "有限公司", "page_size": 2}).json()
    second = client.get(first["next"]).json()
    assert [r["id"] for r in first["results"] + second["results"]] == [
        book["pooled"].pk,  # the same tier (contains): in the pool first, then newest first
        book["own"].pk,
        book["teammates"].pk,
    ]
    assert second["next"] is None


def test_a_rep_cannot_reveal_a_pooled_phone_and_the_attempt_is_logged(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{book['pooled'].pk}/reveal/", {"field": "phone"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.action, entry.target_id, entry.detail["field"]) == (
        org["rep_a"],
        "permission_denied",
        str(book["pooled"].pk),
        "phone",
    )


@pytest.mark.parametrize(("who", "customer"), [("admin", "pooled"), ("east_manager", "teammates")])
def test_an_allowed_reveal_returns_the_value_and_writes_an_audit_row(
    org: dict[str, Any], book: dict[str, Customer], api: Api, who: str, customer: str
) -> None:
    target = book[customer]
    response = api(org[who]).post(
        f"/api/v1/customers/{target.pk}/reveal/", {"field": "phone"}, format="json"
    )
    assert response.json() == {"field": "phone", "value": target.phone}
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.action, entry.target_id, entry.detail) == (
        org[who],
        "reveal",
        str(target.pk),
        {"field": "phone", "action": "reveal"},
    )
    assert target.phone not in str(entry.detail)


def test_a_pool_admin_may_reveal_a_pooled_customer(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    org["east_pool"].admins.add(org["rep_b"])
    response = api(org["rep_b"]).post(
        f"/api/v1/customers/{book['pooled'].pk}/reveal/", {"field": "email"}, format="json"
    )
    assert response.json()["value"] == "li@secret.cn"


@override_settings(HIGHSEAS_ROLE_MASKED_FIELDS={"rep": ["phone"]})
def test_a_role_mask_hides_even_the_owners_phone_until_revealed(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    client = api(org["rep_b"])
    path = f"/api/v1/customers/{book['teammates'].pk}/"
    assert client.get(path).json()["phone"] == "137****2222"
    revealed = client.post(f"{path}reveal/", {"field": "phone"}, format="json").json()
    assert revealed["value"] == "13711112222"
    assert AuditLog.objects.filter(actor=org["rep_b"], action="reveal").count() == 1


def test_a_duplicate_create_answers_409_with_holder_and_status(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    response = api(org["rep_c"]).post(
        "/api/v1/customers/",
        {"name": "钱塘智能制造（杭州）有限公司", "phone": "186 0000 1111"},
        format="json",
    )
    body = response.json()
    assert (response.status_code, body["code"], body["holder"], body["status"]) == (
        409,
        "duplicate",
        "REP_B",
        "owned",
    )
    assert body["matches"][0]["id"] == book["teammates"].pk


def test_an_edit_that_collides_is_refused_and_changes_nothing(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    own = book["own"]
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{own.pk}/", {"phone": "+86 137-1111-2222"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "duplicate")
    own.refresh_from_db()
    assert (own.phone, own.phone_key) == (book["own"].phone, book["own"].phone_key)


def test_a_fuzzy_match_comes_back_as_a_warning_with_the_new_customer(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    response = api(org["rep_c"]).post(
        "/api/v1/customers/", {"name": "西湖数据科技服务有限公司"}, format="json"
    )
    body = response.json()
    assert response.status_code == 201, body
    assert [(w["id"], w["match"]) for w in body["warnings"]] == [(book["pooled"].pk, "fuzzy")]


def test_check_duplicates_reports_the_decision_and_the_match(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    body = (
        api(org["rep_c"])
        .post(
            "/api/v1/customers/check-duplicates/",
            {"name": "西湖数据科技（杭州）有限公司", "email": "LI@secret.cn"},
            format="json",
        )
        .json()
    )
    assert body["decision"] == "block"
    (match,) = body["matches"]
    assert (match["id"], match["match"], match["matched_on"], match["holder"]) == (
        book["pooled"].pk,
        "exact",
        ["email", "name"],
        "华东公海",
    )


def test_a_manager_merges_and_undoes_through_the_api(
    org: dict[str, Any], book: dict[str, Customer], api: Api
) -> None:
    client = api(org["east_manager"])
    survivor, other = book["own"], book["teammates"]
    merged = client.post(
        f"/api/v1/customers/{survivor.pk}/merge/",
        {"other": other.pk, "fields": {"phone": "other"}},
        format="json",
    ).json()
    assert (merged["customer"]["phone"], merged["merge"]["absorbed"]) == (
        "13711112222",
        other.pk,
    )
    assert client.get(f"/api/v1/customers/{other.pk}/").status_code == 404
    undone = client.post(f"/api/v1/customers/{survivor.pk}/unmerge/", {}, format="json").json()
    assert undone["merge"]["undone_at"] is not None
    assert undone["customer"]["phone"] == survivor.phone
    assert client.get(f"/api/v1/customers/{other.pk}/").json()["owner"] == org["rep_b"].pk
