"""``/api/v1/insights/``: rep figures, fairness and rescore, as the services decide them for
the caller; bad windows name their field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import AuditLog, User
from highseas.customers.models import Customer
from highseas.pools import followups, ownership

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


@pytest.fixture
def won(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    """rep_a claimed a customer ten days ago and won 50000 on it five days ago."""
    now = timezone.now()
    customer = make_customer(org["admin"], pool=org["east_pool"], now=now - timedelta(days=11))
    ownership.claim(org["rep_a"], customer.pk, now=now - timedelta(days=10))
    followups.open_deal(
        org["rep_a"], customer.pk, amount=Decimal(50_000), stage="won", now=now - timedelta(days=5)
    )
    return customer


def test_a_manager_reads_the_figures_of_their_reps(
    org: dict[str, Any], won: Customer, api: Api
) -> None:
    response = api(org["east_manager"]).get("/api/v1/insights/reps/")
    assert response.status_code == 200, response.content
    rows = {row["username"]: row for row in response.json()["reps"]}
    assert sorted(rows) == ["rep_a", "rep_b"]
    assert {k: rows["rep_a"][k] for k in ("holdings", "claims", "won", "win_rate", "revenue")} == {
        "holdings": 1,
        "claims": 1,
        "won": 1,
        "win_rate": 1.0,
        "revenue": "50000.00",
    }


def test_the_other_manager_sees_none_of_these_reps(
    org: dict[str, Any], won: Customer, api: Api
) -> None:
    response = api(org["south_manager"]).get("/api/v1/insights/reps/")
    assert [row["username"] for row in response.json()["reps"]] == ["rep_c"]


def test_a_rep_reads_their_own_row_only(org: dict[str, Any], won: Customer, api: Api) -> None:
    response = api(org["rep_a"]).get("/api/v1/insights/reps/")
    assert [row["username"] for row in response.json()["reps"]] == ["rep_a"]


def test_an_old_window_leaves_the_recent_claim_out(
    org: dict[str, Any], won: Customer, api: Api
) -> None:
    response = api(org["admin"]).get(
        "/api/v1/insights/reps/", {"since": "2026-01-01", "until": "2026-02-01"}
    )
    assert response.status_code == 200, response.content
    rows = {row["username"]: row for row in response.json()["reps"]}
    assert (rows["rep_a"]["claims"], rows["rep_a"]["holdings"]) == (0, 1)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "2026-03-01", "until": "2026-02-01"}, "until"),
        ({"since": "not a date"}, "since"),
        ({"until": "1900-01-01T00:00:00Z"}, "until"),
        ({"since": "2020-01-01", "until": "2026-01-01"}, "since"),
    ],
)
def test_a_bad_window_is_a_validation_error_naming_the_field(
    org: dict[str, Any], api: Api, query: dict[str, str], field: str
) -> None:
    paths = {"reps/": {}, "fairness/": {}, "claims/": {}, "breakdown/": {"by": "source"}}
    for path, extra in paths.items():
        response = api(org["admin"]).get(f"/api/v1/insights/{path}", query | extra)
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "validation_error"
        assert list(response.json()["errors"]) == [field]


def test_fairness_for_a_manager(org: dict[str, Any], won: Customer, api: Api) -> None:
    response = api(org["east_manager"]).get("/api/v1/insights/fairness/")
    assert response.status_code == 200, response.content
    body = response.json()
    # holdings [1, 0] and new customers [1, 0]: one of two reps has everything
    assert (body["reps"], body["gini_holdings"], body["gini_new"]) == (2, 0.5, 0.5)
    assert body["hoarding"] == {"days": 30, "total": 0, "reps": []}
    assert body["gini_claims"] == 0.5
    assert body["bouncing"] == {"min_returns": 2, "total": 0, "customers": []}


def test_fairness_refuses_a_rep(org: dict[str, Any], api: Api) -> None:
    response = api(org["rep_a"]).get("/api/v1/insights/fairness/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_dry_run_rescore_returns_the_changes_and_writes_nothing(
    org: dict[str, Any], won: Customer, api: Api
) -> None:
    response = api(org["admin"]).post("/api/v1/insights/rescore/", {"dry_run": True}, format="json")
    assert response.status_code == 200, response.content
    changes = response.json()["changes"]
    assert [(c["customer"], c["from"], c["to"]) for c in changes] == [(won.pk, "C", "B")]
    assert Customer.objects.get(pk=won.pk).level == "C"


def test_a_rescore_changes_the_level_with_an_audit_row(
    org: dict[str, Any], won: Customer, api: Api
) -> None:
    response = api(org["east_manager"]).post("/api/v1/insights/rescore/", {}, format="json")
    assert response.status_code == 200, response.content
    assert [c["to"] for c in response.json()["changes"]] == ["B"]
    assert Customer.objects.get(pk=won.pk).level == "B"
    row = AuditLog.objects.get(action=AuditLog.Action.CUSTOMER_EDIT)
    assert (row.actor, row.detail) == (
        org["east_manager"],
        {"field": "level", "before": "C", "after": "B"},
    )


def test_a_rep_may_not_rescore(org: dict[str, Any], won: Customer, api: Api) -> None:
    response = api(org["rep_a"]).post("/api/v1/insights/rescore/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Customer.objects.get(pk=won.pk).level == "C"


def test_a_breakdown_by_rep(org: dict[str, Any], won: Customer, api: Api) -> None:
    response = api(org["east_manager"]).get("/api/v1/insights/breakdown/", {"by": "rep"})
    assert response.status_code == 200, response.content
    assert response.json()["groups"] == [
        {
            "key": "rep_a",
            "gains": 1,
            "won": 1,
            "conversion": 1.0,
            "revenue": "50000.00",
            "median_hours_to_first_contact": None,
        }
    ]


def test_a_breakdown_needs_a_known_grouping(org: dict[str, Any], api: Api) -> None:
    response = api(org["admin"]).get("/api/v1/insights/breakdown/", {"by": "colour"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["by"]


@pytest.mark.parametrize("path", ["breakdown/?by=rep", "claims/"])
def test_a_rep_may_not_read_team_breakdowns(org: dict[str, Any], api: Api, path: str) -> None:
    response = api(org["rep_a"]).get(f"/api/v1/insights/{path}")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_claim_effectiveness_for_a_manager(org: dict[str, Any], won: Customer, api: Api) -> None:
    response = api(org["east_manager"]).get("/api/v1/insights/claims/")
    assert response.status_code == 200, response.content
    rows = {row["username"]: row for row in response.json()["reps"]}
    assert {k: rows["rep_a"][k] for k in ("claims", "contacted", "won", "returned")} == {
        "claims": 1,
        "contacted": 0,
        "won": 1,
        "returned": 0,
    }


def test_a_manager_locks_a_level_and_rescore_leaves_it(
    org: dict[str, Any], won: Customer, api: Api
) -> None:
    client = api(org["east_manager"])
    path = f"/api/v1/insights/levels/{won.pk}/lock/"
    response = client.post(path, {"level": "A", "reason": "战略客户"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"customer": won.pk, "level": "A", "locked": True} | {
        "reason": "战略客户"
    }
    rescored = client.post("/api/v1/insights/rescore/", {}, format="json")
    assert rescored.json()["changes"] == []
    assert Customer.objects.get(pk=won.pk).level == "A"
    unlocked = client.delete(path)
    assert unlocked.json()["locked"] is False
    assert [c["to"] for c in client.post("/api/v1/insights/rescore/").json()["changes"]] == ["B"]


def test_a_rep_may_not_lock_a_level(org: dict[str, Any], won: Customer, api: Api) -> None:
    path = f"/api/v1/insights/levels/{won.pk}/lock/"
    response = api(org["rep_a"]).post(path, {"level": "A"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Customer.objects.get(pk=won.pk).level == "C"
    assert api(org["rep_a"]).delete(path).status_code == 403


def test_an_unknown_level_is_refused(org: dict[str, Any], won: Customer, api: Api) -> None:
    path = f"/api/v1/insights/levels/{won.pk}/lock/"
    response = api(org["admin"]).post(path, {"level": "Z"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["level"]
