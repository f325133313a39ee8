"""``/api/v1/insights/limit-plans/`` and ``limits/mine/``: a manager previews and saves a
pool's performance-linked limits, bad tiers are named, a rep is refused and told their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
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


PLAN = {
    "is_active": True,
    "measure": "win_rate",
    "tiers": [{"top_percent": 100, "multiplier": 2}],  # rep_b has nothing to measure: no rank
    "ceiling_daily_quota": 100,
}


def test_a_manager_previews_and_saves_a_limit_plan(
    org: dict[str, Any], won: Customer, api: Api
) -> None:
    client = api(org["east_manager"])
    pool = org["east_pool"].pk
    preview = client.post(f"/api/v1/insights/limit-plans/{pool}/preview/", PLAN, format="json")
    assert preview.status_code == 200, preview.content
    rows = {row["username"]: row for row in preview.json()["reps"]}
    assert (rows["rep_a"]["multiplier"], rows["rep_b"]["multiplier"]) == ("2.00", "1.00")
    assert client.get(f"/api/v1/insights/limit-plans/{pool}/").json()["is_active"] is False
    saved = client.put(f"/api/v1/insights/limit-plans/{pool}/", PLAN, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["is_active"] is True and saved.json()["computed_at"] is not None
    mine = api(org["rep_a"]).get("/api/v1/insights/limits/mine/").json()
    assert [row["multiplier"] for row in mine] == ["2.00"]


def test_bad_tiers_are_named(org: dict[str, Any], api: Api) -> None:
    path = f"/api/v1/insights/limit-plans/{org['east_pool'].pk}/"
    response = api(org["admin"]).put(path, {"tiers": [{"top_percent": 0}]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["tiers"]


def test_a_rep_may_not_save_a_limit_plan(org: dict[str, Any], api: Api) -> None:
    path = f"/api/v1/insights/limit-plans/{org['east_pool'].pk}/"
    response = api(org["rep_a"]).put(path, PLAN, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert api(org["admin"]).get(path).json()["is_active"] is False
