"""The ownership endpoints of SPEC §10: shapes, stable codes, facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools.models import ClaimPolicy, OwnershipEvent

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


@pytest.fixture
def pooled(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(
        daily_quota=5, weekly_quota=20, holding_cap=50
    )
    return make_customer(org["admin"], pool=org["east_pool"], phone="13912345678")


def post(client: APIClient, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, body or {}, format="json")


def test_claim_answers_with_the_customer_in_full(
    org: dict[str, Any], pooled: Customer, api: Api
) -> None:
    response = post(api(org["rep_a"]), f"/api/v1/customers/{pooled.pk}/claim/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["owner"], body["phone"]) == (
        "owned",
        org["rep_a"].pk,
        "13912345678",
    )
    assert body["recycle_due_at"] is None or body["recycle_due_at"] > body["owned_since"]


def test_a_lost_race_is_already_owned_with_the_holder(
    org: dict[str, Any], pooled: Customer, api: Api
) -> None:
    post(api(org["rep_a"]), f"/api/v1/customers/{pooled.pk}/claim/")
    response = post(api(org["rep_b"]), f"/api/v1/customers/{pooled.pk}/claim/")
    assert response.status_code == 409
    assert response.json() == {
        "code": "already_owned",
        "detail": "该客户已有负责人。",
        "holder": "REP_A",
        "status": "owned",
    }


def test_claiming_an_unknown_customer_is_not_found(org: dict[str, Any], api: Api) -> None:
    for path in ("/api/v1/customers/987654/claim/", "/api/v1/customers/x/claim/"):
        response = post(api(org["rep_a"]), path)
        assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_release_requires_a_reason(org: dict[str, Any], pooled: Customer, api: Api) -> None:
    client = api(org["rep_a"])
    post(client, f"/api/v1/customers/{pooled.pk}/claim/")
    missing = post(client, f"/api/v1/customers/{pooled.pk}/release/")
    assert (missing.status_code, missing.json()["code"]) == (400, "validation_error")
    assert "reason" in missing.json()["errors"]
    released = post(client, f"/api/v1/customers/{pooled.pk}/release/", {"reason": "无需求"})
    assert released.status_code == 200
    assert released.json()["status"] == "pooled"
    assert released.json()["phone"] == "139****5678"


def test_assign_and_transfer_by_a_manager(org: dict[str, Any], pooled: Customer, api: Api) -> None:
    manager = api(org["east_manager"])
    assigned = post(manager, f"/api/v1/customers/{pooled.pk}/assign/", {"owner": org["rep_a"].pk})
    assert assigned.json()["owner"] == org["rep_a"].pk
    moved = post(
        manager,
        f"/api/v1/customers/{pooled.pk}/transfer/",
        {"owner": org["rep_b"].pk, "reason": "调岗"},
    )
    assert (moved.json()["owner"], moved.json()["previous_owner"]) == (
        org["rep_b"].pk,
        org["rep_a"].pk,
    )
    denied = post(
        api(org["rep_a"]), f"/api/v1/customers/{pooled.pk}/transfer/", {"owner": org["rep_a"].pk}
    )
    assert denied.json()["code"] in {"permission_denied", "not_found"}


def test_freeze_and_unfreeze(org: dict[str, Any], pooled: Customer, api: Api) -> None:
    client = api(org["rep_a"])
    post(client, f"/api/v1/customers/{pooled.pk}/claim/")
    until = (timezone.now() + timedelta(days=10)).isoformat()
    frozen = post(
        client, f"/api/v1/customers/{pooled.pk}/freeze/", {"until": until, "reason": "招投标中"}
    )
    assert frozen.status_code == 200, frozen.content
    assert (frozen.json()["status"], frozen.json()["recycle_due_at"]) == ("frozen", None)
    again = post(client, f"/api/v1/customers/{pooled.pk}/freeze/", {"until": until, "reason": "x"})
    assert again.json()["code"] == "frozen"
    thawed = post(client, f"/api/v1/customers/{pooled.pk}/unfreeze/")
    assert thawed.json()["status"] == "owned"


def test_the_ownership_timeline(org: dict[str, Any], pooled: Customer, api: Api) -> None:
    client = api(org["rep_a"])
    post(client, f"/api/v1/customers/{pooled.pk}/claim/")
    timeline = client.get(f"/api/v1/customers/{pooled.pk}/ownership/").json()
    assert [(e["kind"], e["to_owner_name"], e["actor"]) for e in timeline] == [
        ("created", None, "boss"),
        ("claimed", "REP_A", "rep_a"),
    ]
    other = api(org["rep_c"]).get(f"/api/v1/customers/{pooled.pk}/ownership/")
    assert other.status_code == 404


def test_me_shows_holdings_cap_and_quota_left(
    org: dict[str, Any], pooled: Customer, api: Api
) -> None:
    client = api(org["rep_a"])
    post(client, f"/api/v1/customers/{pooled.pk}/claim/")
    me = client.get("/api/v1/me/").json()
    assert (me["holdings"], me["frozen"]) == (1, 0)
    assert me["pools"] == [
        {
            "pool": org["east_pool"].pk,
            "name": "华东公海",
            "holding_cap": 50,
            "holdings": 1,
            "daily_quota": 5,
            "claimed_today": 1,
            "daily_left": 4,
            "weekly_quota": 20,
            "claimed_this_week": 1,
            "weekly_left": 19,
            "requires_approval": False,
        }
    ]


def test_an_approval_pool_answers_202_with_the_request(
    org: dict[str, Any], pooled: Customer, api: Api
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(requires_approval=True)
    response = post(
        api(org["rep_a"]), f"/api/v1/customers/{pooled.pk}/claim/", {"reason": "展会上认识"}
    )
    assert response.status_code == 202
    body = response.json()
    assert body["code"] == "approval_required"
    request_id = body["request"]["id"]
    listed = api(org["east_manager"]).get("/api/v1/claim-requests/?state=pending").json()
    assert [r["id"] for r in listed["results"]] == [request_id]
    approved = post(api(org["east_manager"]), f"/api/v1/claim-requests/{request_id}/approve/")
    assert approved.json()["state"] == "approved"
    assert Customer.objects.get(pk=pooled.pk).owner == org["rep_a"]
    assert OwnershipEvent.objects.filter(customer=pooled, kind="claimed").count() == 1
