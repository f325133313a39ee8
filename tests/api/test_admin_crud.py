"""Admins create teams, users and pools (with their policies); others may not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from highseas.accounts.models import Team, User
from highseas.pools.models import Pool

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]

POOL_BODY: dict[str, Any] = {
    "name": "华北公海",
    "masked_fields": ["phone", "email"],
    "claim_policy": {
        "daily_quota": 10,
        "weekly_quota": 40,
        "holding_cap": 200,
        "count_won_in_cap": False,
        "reclaim_cooldown_days": 7,
        "requires_approval": False,
        "requires_reason": True,
        "approval_expiry_hours": None,
        "max_frozen": 5,
        "max_freeze_days": 30,
        "daily_view_limit": 50,
    },
    "recycle_policy": {
        "idle_days": 15,
        "no_deal_days": 90,
        "first_contact_hours": 48,
        "warn_days": 3,
        "won_repurchase_days": 60,
        "effective_activity_kinds": ["call", "visit"],
        "exempt_won": True,
        "exempt_open_deal": True,
        "exempt_levels": ["A"],
        "level_overrides": {"B": {"idle_days": 20}},
        "destination": "same_pool",
    },
}


def test_an_admin_builds_a_team_a_manager_and_a_rep(org: dict[str, Any], api: Api) -> None:
    client = api(org["admin"])
    team = client.post(
        "/api/v1/teams/", {"name": "华北销售部", "parent": org["head"].pk}, format="json"
    )
    assert team.status_code == 201, team.content
    manager = client.post(
        "/api/v1/users/",
        {
            "username": "mgr_north",
            "password": "Str0ng-pass!",
            "display_name": "赵经理",
            "role": "manager",
            "team": team.json()["id"],
            "level": "senior",
        },
        format="json",
    )
    assert manager.status_code == 201, manager.content
    assert "password" not in manager.json()
    assert manager.json()["level"] == "senior"
    patched = client.patch(
        f"/api/v1/teams/{team.json()['id']}/", {"manager": manager.json()["id"]}, format="json"
    )
    assert patched.status_code == 200
    assert User.objects.get(username="mgr_north").check_password("Str0ng-pass!")
    assert Team.objects.get(name="华北销售部").path == f"{org['head'].path}{team.json()['id']}/"


def test_a_weak_password_is_refused(org: dict[str, Any], api: Api) -> None:
    response = api(org["admin"]).post(
        "/api/v1/users/", {"username": "weak", "password": "12345678", "role": "rep"}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert not User.objects.filter(username="weak").exists()


def test_a_pool_round_trips_its_policies(org: dict[str, Any], api: Api) -> None:
    body = {**POOL_BODY, "member_teams": [org["east"].pk], "admins": [org["east_manager"].pk]}
    created = api(org["admin"]).post("/api/v1/pools/", body, format="json")
    assert created.status_code == 201, created.content
    fetched = api(org["admin"]).get(f"/api/v1/pools/{created.json()['id']}/").json()
    assert fetched["claim_policy"] == POOL_BODY["claim_policy"]
    assert fetched["recycle_policy"] == {
        **POOL_BODY["recycle_policy"],
        "destination_pool": None,
        "leave_mode": "pause",  # the default: a rep's recorded leave pauses the clocks
    }
    assert fetched["member_teams"] == [org["east"].pk]


def test_a_pool_policy_is_validated(org: dict[str, Any], api: Api) -> None:
    body = {
        **POOL_BODY,
        "recycle_policy": {
            "destination": "pool",
            "exempt_levels": ["Z"],
            "effective_activity_kinds": ["telepathy"],
        },
    }
    response = api(org["admin"]).post("/api/v1/pools/", body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]["recycle_policy"]
    assert {"exempt_levels", "effective_activity_kinds"} <= set(errors)
    assert not Pool.objects.filter(name="华北公海").exists()


def test_a_negative_quota_is_refused(org: dict[str, Any], api: Api) -> None:
    body = {**POOL_BODY, "claim_policy": {"daily_quota": -1}}
    response = api(org["admin"]).post("/api/v1/pools/", body, format="json")
    assert response.status_code == 400
    assert "daily_quota" in response.json()["errors"]["claim_policy"]


@pytest.mark.parametrize("role_key", ["rep_a", "east_manager"])
def test_only_admins_change_configuration(org: dict[str, Any], api: Api, role_key: str) -> None:
    client = api(org[role_key])
    for path, body in (
        ("/api/v1/teams/", {"name": "私设团队"}),
        ("/api/v1/users/", {"username": "x1", "password": "Str0ng-pass!"}),
        ("/api/v1/pools/", {"name": "私设公海"}),
    ):
        response = client.post(path, body, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert not Team.objects.filter(name="私设团队").exists()
    assert not Pool.objects.filter(name="私设公海").exists()


@pytest.mark.parametrize("role_key", ["rep_a", "east_manager"])
def test_only_admins_edit_users_and_teams(org: dict[str, Any], api: Api, role_key: str) -> None:
    client = api(org[role_key])
    target, team = org["rep_b"], org["east"]
    for path, body in (
        (f"/api/v1/users/{target.pk}/", {"role": "admin", "password": "Str0ng-pass!"}),
        (f"/api/v1/teams/{team.pk}/", {"name": "改名"}),
        (f"/api/v1/users/{target.pk}/", {"role": "nonsense"}),  # refused before validation
    ):
        response = client.patch(path, body, format="json")
        assert response.status_code in (403, 404)
        assert response.json()["code"] in ("permission_denied", "not_found")
    target.refresh_from_db()
    team.refresh_from_db()
    assert (target.role, team.name) == ("rep", org["east"].name)
    assert target.check_password("pw-" + target.username)


def test_the_people_commands_check_the_actor_themselves(org: dict[str, Any]) -> None:
    from highseas.accounts import services
    from highseas.engine.errors import ErrorCode, HighSeasError

    for actor in (org["rep_a"], org["east_manager"]):
        with pytest.raises(HighSeasError) as refused:
            services.add_user(actor, username="sneaky", password="Str0ng-pass!")
        assert refused.value.code is ErrorCode.PERMISSION_DENIED
        with pytest.raises(HighSeasError):
            services.change_user(actor, org["rep_b"], role="admin")
        with pytest.raises(HighSeasError):
            services.add_team(actor, name="私设团队")
    assert not User.objects.filter(username="sneaky").exists()
    assert User.objects.get(pk=org["rep_b"].pk).role == "rep"
    created = services.add_user(org["admin"], username="fine", password="Str0ng-pass!")
    assert created.pk is not None
