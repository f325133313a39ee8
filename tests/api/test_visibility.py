"""The visibility layer: who sees which customers, and which fields arrive masked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
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
