"""``POST /api/v1/sweeps/`` and the policy preview endpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools import ownership
from highseas.pools.models import RecyclePolicy

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


@pytest.fixture
def stale(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7, warn_days=3)
    past = timezone.now() - timedelta(days=8)
    customer = make_customer(org["admin"], pool=org["east_pool"], now=past)
    ownership.claim(org["rep_a"], customer.pk, now=past)
    return customer


def test_a_manager_previews_then_runs_a_sweep(
    org: dict[str, Any], stale: Customer, api: Api
) -> None:
    client = api(org["east_manager"])
    preview = client.post("/api/v1/sweeps/", {"dry_run": True}, format="json")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert [r["customer"] for r in body["recycled"]] == [stale.pk]
    assert body["recycled"][0]["from_owner_name"] == "REP_A"
    assert body["summary"]["by_owner"] == {"REP_A": 1}
    assert Customer.objects.get(pk=stale.pk).status == "owned"
    real = client.post("/api/v1/sweeps/", {"dry_run": False}, format="json")
    assert [r["customer"] for r in real.json()["recycled"]] == [stale.pk]
    assert Customer.objects.get(pk=stale.pk).status == "pooled"


def test_a_future_preview_is_allowed_but_a_future_run_needs_time_travel(
    org: dict[str, Any], stale: Customer, api: Api, settings: Any
) -> None:
    client = api(org["admin"])
    future = (timezone.now() + timedelta(days=30)).isoformat()
    assert (
        client.post("/api/v1/sweeps/", {"dry_run": True, "now": future}, format="json").status_code
        == 200
    )
    settings.ALLOW_TIME_TRAVEL = False
    refused = client.post("/api/v1/sweeps/", {"dry_run": False, "now": future}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "validation_error")
    assert Customer.objects.get(pk=stale.pk).status == "owned"
    settings.ALLOW_TIME_TRAVEL = True
    allowed = client.post("/api/v1/sweeps/", {"dry_run": False, "now": future}, format="json")
    assert allowed.status_code == 200


def test_reps_cannot_run_sweeps(org: dict[str, Any], stale: Customer, api: Api) -> None:
    response = api(org["rep_a"]).post("/api/v1/sweeps/", {"dry_run": False}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert Customer.objects.get(pk=stale.pk).status == "owned"


def test_the_policy_preview_shows_what_new_settings_would_take(
    org: dict[str, Any], make_customer: Callable[..., Customer], api: Api
) -> None:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=60)
    claimed_at: datetime = timezone.now() - timedelta(days=10)
    customer = make_customer(org["admin"], pool=org["east_pool"], now=claimed_at)
    ownership.claim(org["rep_b"], customer.pk, now=claimed_at)
    response = api(org["east_manager"]).post(
        f"/api/v1/pools/{org['east_pool'].pk}/recycle-preview/",
        {"recycle_policy": {"idle_days": 14}, "days": 7},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [row["customer"] for row in body["customers"]] == [customer.pk]
    assert body["by_owner"] == {"REP_B": 1}
    assert RecyclePolicy.objects.get(pool=org["east_pool"]).idle_days == 60
    invalid = api(org["east_manager"]).post(
        f"/api/v1/pools/{org['east_pool'].pk}/recycle-preview/",
        {"recycle_policy": {"idle_days": -3}},
        format="json",
    )
    assert invalid.json()["code"] == "validation_error"
