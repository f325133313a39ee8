"""Reports, previews and timelines are the viewer's: a manager's sweep and recycle preview
cover only customers held in their team subtree; a viewer who sees a customer masked gets
no follow-ups or deals; API and web agree on who edits pool policies and which per-level
overrides exist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools import followups, ownership
from highseas.pools import services as pools
from highseas.pools.models import OwnershipEvent, RecyclePolicy

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


@pytest.fixture
def held(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Customer]:
    """Two stale customers of the east pool: one held in the east team, one by a south rep."""
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7, warn_days=3)
    past = timezone.now() - timedelta(days=8)
    east = make_customer(org["admin"], pool=org["east_pool"], now=past)
    south = make_customer(org["admin"], pool=org["east_pool"], now=past, name="华南外队客户")
    ownership.assign(org["admin"], east.pk, org["rep_a"], now=past)
    ownership.assign(org["admin"], south.pk, org["rep_c"], now=past)
    return {"east": east, "south": south}


def test_a_managers_sweep_preview_lists_only_customers_of_their_team(
    org: dict[str, Any], held: dict[str, Customer], api: Api
) -> None:
    body = (
        api(org["east_manager"])
        .post("/api/v1/sweeps/", {"dry_run": True, "pool": org["east_pool"].pk}, format="json")
        .json()
    )
    assert [row["customer"] for row in body["recycled"]] == [held["east"].pk]
    assert body["summary"]["by_owner"] == {"REP_A": 1}
    assert "华南外队客户" not in str(body) and "REP_C" not in str(body)


def test_a_managers_real_sweep_recycles_only_customers_of_their_team(
    org: dict[str, Any], held: dict[str, Customer], api: Api
) -> None:
    response = api(org["east_manager"]).post("/api/v1/sweeps/", {"dry_run": False}, format="json")
    assert [row["customer"] for row in response.json()["recycled"]] == [held["east"].pk]
    statuses = dict(Customer.objects.values_list("pk", "status"))
    assert (statuses[held["east"].pk], statuses[held["south"].pk]) == ("pooled", "owned")
    assert not OwnershipEvent.objects.filter(customer=held["south"], kind="recycled").exists()


def test_an_admins_sweep_preview_lists_every_customer(
    org: dict[str, Any], held: dict[str, Customer], api: Api
) -> None:
    body = api(org["admin"]).post("/api/v1/sweeps/", {"dry_run": True}, format="json").json()
    assert {row["customer"] for row in body["recycled"]} == {c.pk for c in held.values()}


def test_a_manager_cannot_sweep_a_pool_they_do_not_belong_to(
    org: dict[str, Any], held: dict[str, Customer], api: Api
) -> None:
    response = api(org["south_manager"]).post(
        "/api/v1/sweeps/", {"dry_run": False, "pool": org["east_pool"].pk}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "not_pool_member")
    assert set(Customer.objects.values_list("status", flat=True)) == {"owned"}


def test_the_recycle_preview_shows_a_manager_only_customers_of_their_team(
    org: dict[str, Any], held: dict[str, Customer], api: Api
) -> None:
    response = api(org["east_manager"]).post(
        f"/api/v1/pools/{org['east_pool'].pk}/recycle-preview/",
        {"recycle_policy": {"idle_days": 5}, "days": 7},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [row["customer"] for row in body["customers"]] == [held["east"].pk]
    assert (body["by_owner"], body["current_rules_count"]) == ({"REP_A": 1}, 1)
    assert "华南外队客户" not in str(body) and "REP_C" not in str(body)


def test_reps_cannot_preview_recycle_settings(
    org: dict[str, Any], held: dict[str, Customer], api: Api
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/pools/{org['east_pool'].pk}/recycle-preview/", {}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


@pytest.fixture
def pooled_with_history(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    """A customer REP_A followed up (a phone number in the note), dealt on, then released."""
    customer = make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    followups.log_activity(org["rep_a"], customer.pk, kind="call", note="老板手机 13698765432")
    followups.open_deal(org["rep_a"], customer.pk, amount=5000, name="秘密报价")
    ownership.release(org["rep_a"], customer.pk, reason="暂无需求")
    return customer


@pytest.mark.parametrize("what", ["activities", "deals"])
def test_a_viewer_who_sees_the_customer_masked_gets_no_follow_ups_or_deals(
    org: dict[str, Any], pooled_with_history: Customer, api: Api, what: str
) -> None:
    response = api(org["rep_b"]).get(f"/api/v1/customers/{pooled_with_history.pk}/{what}/")
    assert (response.status_code, response.json()) == (200, [])


@pytest.mark.parametrize("what", ["activities", "deals"])
def test_an_admin_gets_the_follow_ups_and_deals_of_a_pooled_customer(
    org: dict[str, Any], pooled_with_history: Customer, api: Api, what: str
) -> None:
    response = api(org["admin"]).get(f"/api/v1/customers/{pooled_with_history.pk}/{what}/")
    assert response.status_code == 200
    assert len(response.json()) == 1


# --- pool policies: one rule for both edges -----------------------------------------------------


@pytest.fixture
def pool_admin(org: dict[str, Any]) -> User:
    pools.save_pool(org["east_pool"], admins=[org["east_manager"]])
    manager: User = org["east_manager"]
    return manager


def test_a_pools_admin_edits_its_recycle_policy_through_the_api(
    org: dict[str, Any], pool_admin: User, api: Api
) -> None:
    response = api(pool_admin).patch(
        f"/api/v1/pools/{org['east_pool'].pk}/",
        {"recycle_policy": {"idle_days": 12}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert RecyclePolicy.objects.get(pool=org["east_pool"]).idle_days == 12


def test_a_pools_admin_cannot_change_its_members_or_name_through_the_api(
    org: dict[str, Any], pool_admin: User, api: Api
) -> None:
    response = api(pool_admin).patch(
        f"/api/v1/pools/{org['east_pool'].pk}/", {"name": "改名公海"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    org["east_pool"].refresh_from_db()
    assert org["east_pool"].name == "华东公海"


def test_a_manager_who_does_not_administer_the_pool_cannot_edit_its_policies(
    org: dict[str, Any], api: Api
) -> None:
    response = api(org["east_manager"]).patch(
        f"/api/v1/pools/{org['east_pool'].pk}/",
        {"recycle_policy": {"idle_days": 12}},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert RecyclePolicy.objects.get(pool=org["east_pool"]).idle_days != 12


def test_an_unknown_level_override_key_is_refused(org: dict[str, Any], api: Api) -> None:
    response = api(org["admin"]).patch(
        f"/api/v1/pools/{org['east_pool'].pk}/",
        {"recycle_policy": {"level_overrides": {"A": {"holding_cap": 3}}}},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


# --- pool lists: one rule for both edges --------------------------------------------------------


def test_a_rep_never_lists_a_reassign_queue_on_the_api_or_the_web(
    org: dict[str, Any], make_pool: Callable[..., Any], api: Api
) -> None:
    from django.test import Client

    make_pool("华东待分配", members=[org["rep_a"]], is_reassign_queue=True)
    listed = {p["name"] for p in api(org["rep_a"]).get("/api/v1/pools/").json()["results"]}
    web = Client()
    web.force_login(org["rep_a"])
    page = web.get("/pool/").content.decode()
    assert (listed, "华东待分配" in page) == ({"华东公海"}, False)


def test_a_manager_lists_a_reassign_queue_of_theirs(
    org: dict[str, Any], make_pool: Callable[..., Any], api: Api
) -> None:
    make_pool("华东待分配", admins=[org["east_manager"]], is_reassign_queue=True)
    listed = {p["name"] for p in api(org["east_manager"]).get("/api/v1/pools/").json()["results"]}
    assert listed == {"华东公海", "华东待分配"}
