"""``POST /api/v1/customers/`` names an owner by the registration rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools.models import OwnershipEvent
from highseas.routing.models import AssignmentRule

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


@pytest.mark.parametrize("role", ["east_manager", "admin"])
def test_nobody_registers_a_customer_for_a_deactivated_rep(
    org: dict[str, Any], api: Api, role: str
) -> None:
    User.objects.filter(pk=org["rep_b"].pk).update(is_active=False)
    response = api(org[role]).post(
        "/api/v1/customers/", {"name": "离职客户", "owner": org["rep_b"].pk}, format="json"
    )
    body = response.json()
    assert (response.status_code, body["code"], body["errors"]) == (
        400,
        "validation_error",
        {"owner": ["inactive"]},
    )
    assert not Customer.objects.exists()
    assert not OwnershipEvent.objects.exists()


def test_a_manager_registers_for_a_rep_of_their_team(org: dict[str, Any], api: Api) -> None:
    response = api(org["east_manager"]).post(
        "/api/v1/customers/",
        {"name": "代登记客户", "owner": org["rep_b"].pk, "pool": org["east_pool"].pk},
        format="json",
    )
    body = response.json()
    assert response.status_code == 201, body
    assert (body["owner"], body["pool"], body["status"]) == (
        org["rep_b"].pk,
        org["east_pool"].pk,
        "owned",
    )


def test_a_customer_the_rules_route_out_of_sight_comes_back_as_its_public_view(
    org: dict[str, Any], api: Api
) -> None:
    AssignmentRule.objects.create(
        name="给华南", position=0, target={"user": org["rep_c"].pk}, conditions={}
    )
    response = api(org["east_manager"]).post(
        "/api/v1/customers/",
        {"name": "转走的客户", "phone": "13700001111", "pool": org["east_pool"].pk},
        format="json",
    )
    body = response.json()
    assert response.status_code == 201, body
    customer = Customer.objects.get(name="转走的客户")
    assert customer.owner == org["rep_c"]
    assert body == {
        "id": customer.pk,
        "name": "转走的客户",
        "province": "",
        "city": "",
        "industry": "",
        "level": "C",
        "status": "owned",
        "holder": "REP_C",
    }


@pytest.mark.parametrize("role", ["rep_a", "east_manager", "admin"])
def test_a_new_customer_is_not_registered_as_won(org: dict[str, Any], api: Api, role: str) -> None:
    response = api(org[role]).post(
        "/api/v1/customers/",
        {"name": "刚登记就赢单", "stage": "won", "pool": org["east_pool"].pk},
        format="json",
    )
    body = response.json()
    assert (response.status_code, body["code"], list(body["errors"])) == (
        400,
        "validation_error",
        ["stage"],
    )
    assert not Customer.objects.exists()
    assert not OwnershipEvent.objects.exists()
