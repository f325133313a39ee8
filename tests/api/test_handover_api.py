"""``POST /api/v1/users/{id}/handover/`` and the deactivation it guards (SPEC "API essentials,
second part", "People change"): a thin adapter over ``routing.handover``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools.models import OwnershipEvent
from tests.admin_forms import deactivate_in_admin

Api = Callable[[User], APIClient]
MakeCustomer = Callable[..., Customer]

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned(org: dict[str, Any], make_customer: MakeCustomer) -> list[Customer]:
    rep = org["rep_a"]
    return [make_customer(rep, owner=rep, pool=org["east_pool"]) for _ in range(3)]


def _url(user: User) -> str:
    return f"/api/v1/users/{user.pk}/handover/"


def test_a_preview_answers_the_moves_and_writes_nothing(
    api: Api, org: dict[str, Any], owned: list[Customer]
) -> None:
    rows = OwnershipEvent.objects.count()
    answer = api(org["east_manager"]).post(
        _url(org["rep_a"]), {"to": org["rep_b"].pk, "dry_run": True}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {
        "user": org["rep_a"].pk,
        "to": org["rep_b"].pk,
        "dry_run": True,
        "moved": [
            {
                "customer": c.pk,
                "to_owner": org["rep_b"].pk,
                "to_pool": org["east_pool"].pk,
                "was_frozen": False,
                "deals": 0,
                "tasks": 0,
            }
            for c in owned
        ],
        "by_owner": [{"to_owner": org["rep_b"].pk, "customers": 3}],
        "problems": [],
        "remaining": 0,
    }
    assert OwnershipEvent.objects.count() == rows


def test_a_run_to_the_pools_releases_them(
    api: Api, org: dict[str, Any], owned: list[Customer]
) -> None:
    answer = api(org["admin"]).post(_url(org["rep_a"]), {"to": "pools"}, format="json")
    assert answer.status_code == 200, answer.json()
    assert [m["to_owner"] for m in answer.json()["moved"]] == [None] * 3
    assert not Customer.objects.filter(owner=org["rep_a"]).exists()


@pytest.mark.parametrize("to", ["nobody", True, None, -1])
def test_a_target_that_is_neither_a_user_nor_rules_nor_pools_is_a_validation_error(
    api: Api, org: dict[str, Any], owned: list[Customer], to: Any
) -> None:
    answer = api(org["admin"]).post(_url(org["rep_a"]), {"to": to}, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 3


def test_a_rep_is_refused_and_nothing_moves(
    api: Api, org: dict[str, Any], owned: list[Customer]
) -> None:
    answer = api(org["rep_b"]).post(_url(org["rep_a"]), {"to": org["rep_b"].pk}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (403, "permission_denied")
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 3


def test_a_receiver_outside_the_managers_subtree_is_refused(
    api: Api, org: dict[str, Any], owned: list[Customer]
) -> None:
    answer = api(org["east_manager"]).post(
        _url(org["rep_a"]), {"to": org["rep_c"].pk}, format="json"
    )
    assert (answer.status_code, answer.json()["code"]) == (403, "permission_denied")
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 3


def test_deactivation_answers_handover_required_until_the_rep_owns_none(
    api: Api, org: dict[str, Any], owned: list[Customer]
) -> None:
    admin = api(org["admin"])
    user_url = f"/api/v1/users/{org['rep_a'].pk}/"
    refused = admin.patch(user_url, {"is_active": False}, format="json")
    assert refused.status_code == 409
    assert {k: refused.json()[k] for k in ("code", "owned")} == {
        "code": "handover_required",
        "owned": 3,
    }
    assert User.objects.get(pk=org["rep_a"].pk).is_active
    admin.post(_url(org["rep_a"]), {"to": org["rep_b"].pk}, format="json")
    allowed = admin.patch(user_url, {"is_active": False}, format="json")
    assert allowed.status_code == 200, allowed.json()
    assert not User.objects.get(pk=org["rep_a"].pk).is_active


def _admin_deactivation(org: dict[str, Any]) -> Any:
    return deactivate_in_admin(org["admin"], org["rep_a"])


def test_the_admin_refuses_to_deactivate_a_rep_who_owns_customers(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    response = _admin_deactivation(org)
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors.as_data()[0].code == "handover_required"
    assert User.objects.get(pk=org["rep_a"].pk).is_active


def test_the_admin_deactivates_a_rep_who_owns_none(org: dict[str, Any]) -> None:
    assert _admin_deactivation(org).status_code == 302
    assert not User.objects.get(pk=org["rep_a"].pk).is_active


def test_a_handover_at_a_date_is_scheduled_and_nothing_moves_yet(
    api: Api, org: dict[str, Any], owned: list[Customer]
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from highseas.routing.models import ScheduledHandover

    at = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    body = {"to": org["rep_b"].pk, "at": at.isoformat()}
    refused = api(org["rep_b"]).post(_url(org["rep_a"]), body, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    preview = api(org["east_manager"]).post(
        _url(org["rep_a"]), {**body, "dry_run": True}, format="json"
    )
    assert preview.status_code == 200 and len(preview.json()["moved"]) == 3
    assert not ScheduledHandover.objects.exists()
    answer = api(org["east_manager"]).post(_url(org["rep_a"]), body, format="json")
    assert answer.status_code == 202, answer.json()
    row = ScheduledHandover.objects.get()
    assert answer.json() == {
        "scheduled": {
            "id": row.pk,
            "user": org["rep_a"].pk,
            "to": org["rep_b"].pk,
            "at": answer.json()["scheduled"]["at"],
            "state": "scheduled",
            "created_by": org["east_manager"].pk,
        }
    }
    assert row.run_at == at
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 3
    past = {"to": "pools", "at": (timezone.now() - timedelta(hours=1)).isoformat()}
    late = api(org["admin"]).post(_url(org["rep_b"]), past, format="json")
    assert (late.status_code, late.json()["code"]) == (400, "validation_error")
    assert ScheduledHandover.objects.count() == 1
