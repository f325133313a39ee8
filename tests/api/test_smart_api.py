"""``/api/v1/models/`` and ``/api/v1/simulations/`` (SPEC §10, smart assignment): training a
version, reading the current one, and replaying a past period; refusals name their code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.smart.models import Simulation, WinModelVersion
from tests.integration.test_smart import history

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]
NOW = timezone.now()


def test_before_any_training_the_current_model_is_none_and_says_fallback(
    org: dict[str, Any], api: Api
) -> None:
    body = api(org["east_manager"]).get("/api/v1/models/current/").json()
    assert body["version"] is None and body["fallback"] == "no_model"


def test_training_answers_version_trained_on_auc_brier_and_fallback(
    org: dict[str, Any], api: Api
) -> None:
    history(org, [org["rep_a"], org["rep_b"]])
    response = api(org["admin"]).post("/api/v1/models/train/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 1 and body["trained_on"] == 400 and body["fallback"] is None
    assert 0.5 < body["auc"] <= 1 and 0 < body["brier"] < 0.25
    assert body["metrics"]["calibration"]
    current = api(org["east_manager"]).get("/api/v1/models/current/").json()
    assert current["version"] == 1 and current["auc"] == body["auc"]
    assert [v["version"] for v in api(org["admin"]).get("/api/v1/models/").json()] == [1]


def test_with_thin_history_training_says_fallback(org: dict[str, Any], api: Api) -> None:
    body = api(org["admin"]).post("/api/v1/models/train/").json()
    assert body["fallback"] == "thin_data" and body["auc"] is None and body["trained_on"] == 0


def test_a_rep_may_neither_train_nor_read_the_model(org: dict[str, Any], api: Api) -> None:
    client = api(org["rep_a"])
    assert client.post("/api/v1/models/train/").json()["code"] == "permission_denied"
    assert client.get("/api/v1/models/current/").status_code == 403
    assert client.post("/api/v1/simulations/", {}, format="json").status_code == 403
    assert not WinModelVersion.objects.exists()


def test_a_simulation_compares_the_strategies_side_by_side(
    org: dict[str, Any], api: Api, make_customer: Callable[..., Customer]
) -> None:
    history(org, [org["rep_a"], org["rep_b"]])
    since, until = NOW - timedelta(days=10), NOW - timedelta(days=2)
    for day in range(8):
        for industry in ("金融", "制造"):
            make_customer(
                org["admin"],
                pool=org["east_pool"],
                now=since + timedelta(days=day, hours=2),
                industry=industry,
                province="广东",
            )
    response = api(org["east_manager"]).post(
        "/api/v1/simulations/",
        {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "strategies": ["actual", "round_robin", "performance", "smart"],
            "fairness": 0.5,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customers"] == 16 and body["scored_by"] == "model"
    figures = body["strategies"]
    assert set(figures) == {"actual", "round_robin", "performance", "smart"}
    for name in ("round_robin", "performance", "smart"):
        assert figures[name]["assigned"] == 16
        assert set(figures[name]) >= {"expected_wins", "gini_workload", "recycled", "assigned"}
    assert figures["actual"]["assigned"] == 0  # nobody owned them: they stayed pooled
    assert figures["smart"]["expected_wins"] > figures["round_robin"]["expected_wins"]
    assert body["model"]["trained_on"] == 400  # only deals decided before since
    again = api(org["east_manager"]).get(f"/api/v1/simulations/{body['id']}/").json()
    assert again["strategies"] == figures
    assert Simulation.objects.count() == 1


def test_a_simulation_refuses_an_unknown_strategy_and_a_backward_period(
    org: dict[str, Any], api: Api
) -> None:
    client = api(org["admin"])
    bad = client.post(
        "/api/v1/simulations/",
        {"since": NOW.isoformat(), "until": NOW.isoformat(), "strategies": ["magic"]},
        format="json",
    )
    assert bad.status_code == 400 and "strategies" in str(bad.json())
    backward = client.post(
        "/api/v1/simulations/",
        {
            "since": NOW.isoformat(),
            "until": (NOW - timedelta(days=1)).isoformat(),
            "strategies": ["smart"],
        },
        format="json",
    )
    assert backward.status_code == 400 and backward.json()["code"] == "validation_error"
