"""``PATCH`` / ``PUT /api/v1/customers/{id}/``: business fields only, through the edit service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from highseas.accounts.models import AuditLog, User
from highseas.customers import crypto
from highseas.customers.models import Customer
from highseas.pools.models import OwnershipEvent, Pool, RecyclePolicy
from highseas.pools.recompute import recompute_pool_schedules

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]

OWNERSHIP_FIELDS = [
    "owner",
    "pool",
    "status",
    "owned_since",
    "frozen_until",
    "recycle_due_at",
    "warn_at",
    "previous_owner",
    "last_effective_activity_at",
    "last_activity_at",
]


@pytest.fixture
def scheduled_pool(org: dict[str, Any]) -> Pool:
    """The east pool with an idle limit, level A exempt."""
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=30, exempt_levels=["A"])
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    recompute_pool_schedules(pool)
    return pool


@pytest.fixture
def owned(
    org: dict[str, Any], scheduled_pool: Pool, make_customer: Callable[..., Customer]
) -> Customer:
    return make_customer(org["rep_a"], owner=org["rep_a"], pool=scheduled_pool)


def _row(customer: Customer) -> tuple[Any, ...]:
    customer.refresh_from_db()
    return (
        customer.name,
        customer.level,
        customer.stage,
        customer.status,
        customer.owner_id,
        customer.pool_id,
        customer.recycle_due_at,
        customer.warn_at,
    )


def test_patch_owner_is_refused_and_moves_nothing(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    before, events = _row(owned), OwnershipEvent.objects.count()
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{owned.pk}/", {"owner": org["rep_c"].pk}, format="json"
    )
    body = response.json()
    assert (response.status_code, body["code"], list(body["errors"])) == (
        400,
        "validation_error",
        ["owner"],
    )
    assert _row(owned) == before
    assert OwnershipEvent.objects.count() == events


def test_patch_pool_is_refused_and_moves_nothing(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    before = _row(owned)
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{owned.pk}/", {"pool": org["south_pool"].pk}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert _row(owned) == before


def test_patch_owner_null_is_a_validation_error_not_a_crash(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    before = _row(owned)
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{owned.pk}/", {"owner": None}, format="json"
    )
    body = response.json()
    assert (response.status_code, body["code"], list(body["errors"])) == (
        400,
        "validation_error",
        ["owner"],
    )
    assert _row(owned) == before


def test_patch_pool_null_then_a_note_keeps_the_customer_scheduled(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    client = api(org["rep_a"])
    response = client.patch(f"/api/v1/customers/{owned.pk}/", {"pool": None}, format="json")
    assert response.status_code == 400
    client.post(
        f"/api/v1/customers/{owned.pk}/activities/", {"kind": "note", "note": "x"}, format="json"
    )
    owned.refresh_from_db()
    assert owned.pool_id == org["east_pool"].pk
    assert owned.recycle_due_at is not None


@pytest.mark.parametrize("field", OWNERSHIP_FIELDS)
@pytest.mark.parametrize("role", ["rep_a", "east_manager", "admin"])
def test_every_ownership_field_is_refused_for_every_role(
    org: dict[str, Any], owned: Customer, api: Api, field: str, role: str
) -> None:
    before = _row(owned)
    response = api(org[role]).patch(
        f"/api/v1/customers/{owned.pk}/", {field: None, "name": "改名"}, format="json"
    )
    body = response.json()
    assert (response.status_code, body["code"], list(body["errors"])) == (
        400,
        "validation_error",
        [field],
    )
    assert _row(owned) == before


def test_put_does_not_demand_ownership_fields(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).put(
        f"/api/v1/customers/{owned.pk}/",
        {"name": "全量更新客户", "industry": "制造"},
        format="json",
    )
    body = response.json()
    assert response.status_code == 200, body
    assert (body["name"], body["industry"], body["owner"], body["pool"]) == (
        "全量更新客户",
        "制造",
        org["rep_a"].pk,
        org["east_pool"].pk,
    )


def test_a_rep_edits_business_fields_of_their_customer(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{owned.pk}/",
        {"industry": "软件", "tags": ["重点"], "custom_fields": {"渠道": "展会"}},
        format="json",
    )
    body = response.json()
    assert response.status_code == 200, body
    assert (body["industry"], body["tags"], body["custom_fields"]) == (
        "软件",
        ["重点"],
        {"渠道": "展会"},
    )
    assert {"owner", "pool", "status", "masked_fields", "recycle_due_at"} <= set(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [("level", "A"), ("stage", "won"), ("stage", "qualified")],
)
def test_a_rep_may_not_change_level_or_stage(
    org: dict[str, Any], owned: Customer, api: Api, field: str, value: str
) -> None:
    before = _row(owned)
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{owned.pk}/", {field: value}, format="json"
    )
    body = response.json()
    assert (response.status_code, body["code"], body["fields"]) == (
        403,
        "permission_denied",
        [field],
    )
    assert _row(owned) == before
    assert list(AuditLog.objects.values_list("action", flat=True)) == ["permission_denied"]


def test_a_rep_may_send_level_and_stage_unchanged(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{owned.pk}/",
        {"level": owned.level, "stage": owned.stage, "city": "杭州"},
        format="json",
    )
    assert response.status_code == 200, response.json()


def test_a_manager_raises_the_level_to_an_exempt_one_audited(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    response = api(org["east_manager"]).patch(
        f"/api/v1/customers/{owned.pk}/", {"level": "A"}, format="json"
    )
    body = response.json()
    assert response.status_code == 200, body
    assert (body["level"], body["recycle_due_at"], body["warn_at"]) == ("A", None, None)
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.action, entry.target_id, entry.detail) == (
        org["east_manager"],
        AuditLog.Action.CUSTOMER_EDIT,
        str(owned.pk),
        {"field": "level", "before": "C", "after": "A"},
    )


def test_a_manager_demoting_from_an_exempt_level_gives_a_schedule_again(
    org: dict[str, Any], scheduled_pool: Pool, make_customer: Callable[..., Customer], api: Api
) -> None:
    exempt = make_customer(org["rep_a"], owner=org["rep_a"], pool=scheduled_pool, level="A")
    assert exempt.recycle_due_at is None
    response = api(org["east_manager"]).patch(
        f"/api/v1/customers/{exempt.pk}/", {"level": "C"}, format="json"
    )
    assert response.status_code == 200
    exempt.refresh_from_db()
    assert exempt.owned_since is not None
    assert exempt.recycle_due_at == exempt.owned_since + timedelta(days=30)
    assert response.json()["recycle_due_at"] is not None


def test_stage_won_without_a_won_deal_is_refused_even_for_an_admin(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    before = _row(owned)
    response = api(org["admin"]).patch(
        f"/api/v1/customers/{owned.pk}/", {"stage": "won"}, format="json"
    )
    body = response.json()
    assert (response.status_code, body["code"], list(body["errors"])) == (
        400,
        "validation_error",
        ["stage"],
    )
    assert _row(owned) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("tags", "重点"), ("tags", [1]), ("custom_fields", ["x"]), ("level", "Z"), ("kind", "x")],
)
def test_business_fields_are_validated(
    org: dict[str, Any], owned: Customer, api: Api, field: str, value: Any
) -> None:
    before = _row(owned)
    response = api(org["east_manager"]).patch(
        f"/api/v1/customers/{owned.pk}/", {field: value}, format="json"
    )
    body = response.json()
    assert (response.status_code, body["code"], list(body["errors"])) == (
        400,
        "validation_error",
        [field],
    )
    assert _row(owned) == before


def test_an_edit_of_the_phone_keeps_the_duplicate_key_current(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{owned.pk}/", {"phone": "+86 139-0000-1234"}, format="json"
    )
    assert response.status_code == 200, response.json()
    owned.refresh_from_db()
    assert owned.phone_key == crypto.blind("phone", "+8613900001234")


def test_a_teammate_cannot_edit_and_another_team_does_not_see(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    before = _row(owned)
    for role, status in (("rep_b", 404), ("rep_c", 404), ("south_manager", 404)):
        response = api(org[role]).patch(
            f"/api/v1/customers/{owned.pk}/", {"name": "改名"}, format="json"
        )
        assert response.status_code == status, role
    assert _row(owned) == before
