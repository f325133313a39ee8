"""``/api/v1/assignment-rules/``, ``/api/v1/assignment-runs/`` and ``customers/{id}/explain/``."""

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
from highseas.routing.models import AssignmentDecision, AssignmentRule, AssignmentRun

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]
RULES = "/api/v1/assignment-rules/"
RUNS = "/api/v1/assignment-runs/"


def east_rule(org: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "name": "广东客户",
        "position": 1,
        "pool": org["east_pool"].pk,
        "conditions": {"field": "province", "op": "in", "value": ["广东"]},
        "target": {"team": org["east"].pk, "strategy": "round_robin"},
        **overrides,
    }


@pytest.fixture
def pooled(org: dict[str, Any], make_customer: Callable[..., Customer]) -> list[Customer]:
    """Pooled customers of the east pool, made before any rule exists."""
    return [
        make_customer(org["admin"], pool=org["east_pool"], province=province)
        for province in ("广东", "广东", "广东", "西藏")
    ]


# --- rules ------------------------------------------------------------------------------------


def test_a_manager_creates_reads_updates_and_deletes_a_rule_of_their_pool(
    org: dict[str, Any], api: Api
) -> None:
    client = api(org["east_manager"])
    created = client.post(RULES, east_rule(org), format="json")
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    assert created.json()["created_by"] == org["east_manager"].pk
    assert [r["id"] for r in client.get(RULES).json()["results"]] == [rule_id]
    patched = client.patch(f"{RULES}{rule_id}/", {"is_active": False}, format="json")
    assert (patched.status_code, patched.json()["is_active"]) == (200, False)
    assert patched.json()["conditions"] == east_rule(org)["conditions"]
    assert client.delete(f"{RULES}{rule_id}/").status_code == 204
    assert not AssignmentRule.objects.exists()


def test_conditions_and_target_are_validated_with_json_paths(org: dict[str, Any], api: Api) -> None:
    body = east_rule(
        org,
        conditions={
            "all": [
                {"field": "province", "op": "in", "value": "广东"},
                {"field": "level", "op": "eq", "value": "D"},
            ]
        },
        target={"team": org["east"].pk, "strategy": "capacity", "weights": {"999": 1}},
    )
    refused = api(org["admin"]).post(RULES, body, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "validation_error"
    assert refused.json()["errors"] == {
        "conditions": [
            '$.all[0].value: "in" takes a non-empty list.',
            "$.all[1].value: Unknown value 'D'; use one of A, B, C.",
        ],
        "target": ['$.daily_quota: The "capacity" strategy needs a daily quota.'],
    }
    assert not AssignmentRule.objects.exists()


def test_a_target_must_exist_and_weights_name_reps_of_the_team(
    org: dict[str, Any], api: Api
) -> None:
    client = api(org["admin"])
    missing = client.post(RULES, east_rule(org, target={"user": 999999}), format="json")
    assert missing.json()["errors"] == {"target": ["$.user: no user 999999."]}
    outsider = org["rep_c"].pk
    weights = {"team": org["east"].pk, "strategy": "weighted", "weights": {str(outsider): 2}}
    wrong = client.post(RULES, east_rule(org, target=weights), format="json")
    assert wrong.json()["errors"] == {
        "target": [f"$.weights.{outsider}: user {outsider} is not a rep of this team."]
    }


def test_a_manager_cannot_route_to_another_team_or_write_rules_of_other_pools(
    org: dict[str, Any], api: Api
) -> None:
    client = api(org["east_manager"])
    south_team = east_rule(org, target={"team": org["south"].pk, "strategy": "round_robin"})
    refused = client.post(RULES, south_team, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "target": ["$.team: you can only route customers to teams you manage."]
    }
    other_pool = client.post(RULES, east_rule(org, pool=org["south_pool"].pk), format="json")
    assert (other_pool.status_code, other_pool.json()["code"]) == (403, "not_pool_member")
    every_pool = client.post(RULES, east_rule(org, pool=None), format="json")
    assert (every_pool.status_code, every_pool.json()["code"]) == (403, "permission_denied")
    assert not AssignmentRule.objects.exists()


def test_reps_cannot_see_or_write_rules(org: dict[str, Any], api: Api) -> None:
    client = api(org["rep_a"])
    for response in (client.get(RULES), client.post(RULES, east_rule(org), format="json")):
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


# --- runs -------------------------------------------------------------------------------------


def test_a_preview_answers_who_gets_what_and_why_and_writes_nothing(
    org: dict[str, Any], api: Api, pooled: list[Customer]
) -> None:
    client = api(org["east_manager"])
    client.post(RULES, east_rule(org), format="json")
    preview = client.post(
        RUNS, {"dry_run": True, "pool": org["east_pool"].pk, "seed": 4}, format="json"
    )
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert {entry["customer"] for entry in body["assigned"]} == {c.pk for c in pooled[:3]}
    entry = body["assigned"][0]
    assert entry["owner_name"] in ("REP_A", "REP_B")
    assert entry["explanation"]["rule"]["name"] == "广东客户"
    verdicts = {c["name"]: c["verdict"] for c in entry["explanation"]["candidates"]}
    assert sorted(verdicts.values()) == ["passed_over", "taken"]
    assert body["unassigned"] == []  # 西藏 matches no rule, so it is not in the backlog
    assert body["run"] == AssignmentRun.objects.get().pk and body["duration_ms"] >= 0
    assert not Customer.objects.filter(owner__isnull=False).exists()
    real = client.post(
        RUNS, {"dry_run": False, "pool": org["east_pool"].pk, "seed": 4}, format="json"
    )
    assert [(e["customer"], e["owner"]) for e in real.json()["assigned"]] == [
        (e["customer"], e["owner"]) for e in body["assigned"]
    ]
    assert OwnershipEvent.objects.filter(kind="assigned").count() == 3


def test_a_run_reports_the_customers_left_in_the_pool_and_why(
    org: dict[str, Any], api: Api, pooled: list[Customer]
) -> None:
    client = api(org["admin"])
    client.post(
        RULES, east_rule(org, target={"user": org["rep_a"].pk, "daily_quota": 1}), format="json"
    )
    run = {"dry_run": False, "pool": org["east_pool"].pk}
    body = client.post(RUNS, run, format="json", HTTP_ACCEPT_LANGUAGE="en").json()
    assert len(body["assigned"]) == 1
    assert [(e["reason"], e["detail"]) for e in body["unassigned"]] == [
        ("daily_quota_reached", "Was given 1 customers today, the quota is 1.")
    ] * 2
    rejected = body["unassigned"][0]["explanation"]["candidates"]
    assert [(c["verdict"], c["detail"]) for c in rejected] == [
        ("rejected", "Was given 1 customers today, the quota is 1.")
    ]
    assert body["unassigned_reasons"] == {"daily_quota_reached": 2}


def test_the_run_history_lists_previews_and_real_runs(
    org: dict[str, Any], api: Api, pooled: list[Customer]
) -> None:
    client = api(org["east_manager"])
    client.post(RULES, east_rule(org), format="json")
    for dry_run in (True, False):
        client.post(RUNS, {"dry_run": dry_run, "pool": org["east_pool"].pk}, format="json")
    history = client.get(RUNS).json()["results"]
    assert [(r["dry_run"], r["assigned"], r["trigger"]) for r in history] == [
        (False, 3, "manual"),
        (True, 3, "manual"),
    ]
    assert api(org["south_manager"]).get(RUNS).json()["results"] == []


def test_a_manager_names_a_pool_of_theirs(org: dict[str, Any], api: Api) -> None:
    client = api(org["east_manager"])
    unnamed = client.post(RUNS, {"dry_run": True}, format="json")
    assert (unnamed.status_code, unnamed.json()["errors"]) == (400, {"pool": ["required"]})
    foreign = client.post(RUNS, {"dry_run": True, "pool": org["south_pool"].pk}, format="json")
    assert (foreign.status_code, foreign.json()["code"]) == (403, "not_pool_member")
    rep = api(org["rep_a"]).post(
        RUNS, {"dry_run": True, "pool": org["east_pool"].pk}, format="json"
    )
    assert (rep.status_code, rep.json()["code"]) == (403, "permission_denied")


def test_a_future_preview_is_allowed_but_a_future_run_needs_time_travel(
    org: dict[str, Any], api: Api, pooled: list[Customer], settings: Any
) -> None:
    client = api(org["admin"])
    client.post(RULES, east_rule(org), format="json")
    future = (timezone.now() + timedelta(days=3)).isoformat()
    body = {"dry_run": True, "pool": org["east_pool"].pk, "now": future}
    assert client.post(RUNS, body, format="json").status_code == 200
    settings.ALLOW_TIME_TRAVEL = False
    refused = client.post(RUNS, {**body, "dry_run": False}, format="json")
    assert (refused.status_code, refused.json()["errors"]) == (400, {"now": ["time travel is off"]})
    assert not Customer.objects.filter(owner__isnull=False).exists()
    settings.ALLOW_TIME_TRAVEL = True
    assert len(client.post(RUNS, {**body, "dry_run": False}, format="json").json()["assigned"]) == 3


# --- explain ----------------------------------------------------------------------------------


def test_explain_shows_the_latest_decision_for_a_customer_the_caller_sees(
    org: dict[str, Any], api: Api, make_customer: Callable[..., Customer]
) -> None:
    api(org["admin"]).post(RULES, east_rule(org, conditions={}), format="json")
    customer = make_customer(org["east_manager"], pool=org["east_pool"])
    assert customer.owner is not None
    manager_view = api(org["east_manager"]).get(
        f"/api/v1/customers/{customer.pk}/explain/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert manager_view.status_code == 200, manager_view.content
    body = manager_view.json()
    assert (body["outcome"], body["owner"]) == ("assigned", customer.owner.pk)
    assert body["run"] == AssignmentDecision.objects.get(customer=customer).run_id
    explanation = body["explanation"]
    assert (
        explanation["summary"] == f"Rule «广东客户» gave this customer to {customer.owner.label}."
    )
    assert {c["name"] for c in explanation["candidates"]} == {"REP_A", "REP_B"}
    owner_view = api(customer.owner).get(f"/api/v1/customers/{customer.pk}/explain/").json()
    assert [c["rep"] for c in owner_view["explanation"]["candidates"]] == [customer.owner.pk]
    outsider = api(org["rep_c"]).get(f"/api/v1/customers/{customer.pk}/explain/")
    assert (outsider.status_code, outsider.json()["code"]) == (404, "not_found")


def test_explain_without_a_decision_is_not_found(
    org: dict[str, Any], api: Api, pooled: list[Customer]
) -> None:
    response = api(org["admin"]).get(f"/api/v1/customers/{pooled[0].pk}/explain/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
