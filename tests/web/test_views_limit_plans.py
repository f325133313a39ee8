"""The console's performance-linked limits page: a manager builds a pool's plan, previews who
would gain or lose how much (nothing saved), saves it, turns it on (each rep's factor at once)
and off; the rep then reads why their limits changed. Through the ``insights.limits``
services the API uses; a rep and another team's manager are refused and leave no trace;
fields the form does not offer change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from highseas.accounts.models import AuditLog
from highseas.customers.models import Customer
from highseas.insights.models import LimitPlan, RepLimitFactor
from highseas.pools import followups, ownership
from highseas.pools.models import ClaimPolicy
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db

FORM = {
    "measure": "win_rate",
    "window_days": "30",
    "tier1_top": "100",
    "tier1_multiplier": "1.5",
    "ceiling_daily_quota": "20",
    "ceiling_weekly_quota": "30",
    "ceiling_holding_cap": "",
}


@pytest.fixture
def pool(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Any:
    """The east pool (daily 10, weekly 10, cap 50) where rep_a won a deal five days ago and
    rep_b has nothing to measure."""
    pool = org["east_pool"]
    ClaimPolicy.objects.filter(pool=pool).update(daily_quota=10, weekly_quota=10, holding_cap=50)
    now = timezone.now()
    customer = make_customer(org["admin"], pool=pool, now=now - timedelta(days=11))
    ownership.claim(org["rep_a"], customer.pk, now=now - timedelta(days=10))
    followups.open_deal(
        org["rep_a"], customer.pk, amount=Decimal(50_000), stage="won", now=now - timedelta(days=5)
    )
    return pool


def _url(pool: Any) -> str:
    return f"/console/limits/{pool.pk}/"


def _english(client: Any) -> Any:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_the_list_offers_each_pool_the_manager_may_plan(org: dict[str, Any], pool: Any) -> None:
    page = html(signed_in(org["east_manager"]).get("/console/limits/"))
    assert f'href="{_url(pool)}"' in page
    assert f'href="{_url(org["south_pool"])}"' not in page


def test_a_preview_shows_who_gains_and_saves_nothing(org: dict[str, Any], pool: Any) -> None:
    client = _english(signed_in(org["east_manager"]))
    page = html(client.post(_url(pool), {**FORM, "action": "preview"}))
    assert "data-preview" in page
    row_a = page.split('data-rep="rep_a"')[1].split("</tr>")[0]
    row_b = page.split('data-rep="rep_b"')[1].split("</tr>")[0]
    assert "1.50" in row_a and '<span class="up">+5</span>' in row_a  # daily 10 → 15
    assert "1.00" in row_b and 'class="up"' not in row_b
    assert not LimitPlan.objects.exists() and not RepLimitFactor.objects.exists()


def test_turning_a_plan_on_stores_each_reps_factor_and_the_rep_reads_why(
    org: dict[str, Any], pool: Any
) -> None:
    client = signed_in(org["east_manager"])
    response = client.post(_url(pool), {**FORM, "action": "on"})
    assert response.status_code == 302
    plan = LimitPlan.objects.get(pool=pool)
    assert plan.is_active and plan.tiers == [{"top_percent": 100.0, "multiplier": 1.5}]
    assert (plan.ceiling_daily_quota, plan.ceiling_holding_cap) == (20, None)
    factors = dict(RepLimitFactor.objects.values_list("rep__username", "multiplier"))
    assert factors == {"rep_a": Decimal("1.50"), "rep_b": Decimal("1.00")}  # the pool's reps
    assert AuditLog.objects.filter(target_type="limit_plan", target_id=str(pool.pk)).count() == 1
    home = html(_english(signed_in(org["rep_a"])).get("/"))
    reason = home.split("data-limit-reason")[1].split("</span>")[0]
    assert "daily quota 15" in reason and "weekly quota 15" in reason and "+50%" in reason
    assert "data-limit-reason" not in html(signed_in(org["rep_b"]).get("/"))


def test_saving_keeps_a_plan_off_and_turning_off_drops_the_factors(
    org: dict[str, Any], pool: Any
) -> None:
    client = signed_in(org["east_manager"])
    client.post(_url(pool), {**FORM, "action": "save"})
    assert not LimitPlan.objects.get(pool=pool).is_active
    assert not RepLimitFactor.objects.exists()
    client.post(_url(pool), {**FORM, "action": "on"})
    assert RepLimitFactor.objects.exists()
    client.post(_url(pool), {"action": "off"})
    assert not LimitPlan.objects.get(pool=pool).is_active
    assert not RepLimitFactor.objects.exists()
    assert "data-limit-reason" not in html(signed_in(org["rep_a"]).get("/"))


def test_a_rep_is_refused_and_leaves_no_trace(org: dict[str, Any], pool: Any) -> None:
    client = signed_in(org["rep_a"])
    assert client.get("/console/limits/").status_code == 403
    assert client.get(_url(pool)).status_code == 403
    assert client.post(_url(pool), {**FORM, "action": "on"}).status_code == 403
    assert not LimitPlan.objects.exists() and not RepLimitFactor.objects.exists()
    assert not AuditLog.objects.filter(target_type="limit_plan").exists()


def test_another_teams_manager_may_not_plan_the_pool(org: dict[str, Any], pool: Any) -> None:
    client = signed_in(org["south_manager"])
    assert client.get(_url(pool)).status_code == 404
    assert client.post(_url(pool), {**FORM, "action": "on"}).status_code == 404
    assert not LimitPlan.objects.exists()


def test_fields_the_form_does_not_offer_change_nothing(org: dict[str, Any], pool: Any) -> None:
    client = signed_in(org["east_manager"])
    forged = {
        **FORM,
        "action": "save",
        "is_active": "true",
        "computed_at": "2001-01-01T00:00:00Z",
        "pool": str(org["south_pool"].pk),
        "multiplier": "5",
    }
    assert client.post(_url(pool), forged).status_code == 302
    plan = LimitPlan.objects.get()
    assert plan.pool_id == pool.pk and not plan.is_active and plan.computed_at is None
    assert not RepLimitFactor.objects.exists()


def test_a_ceiling_below_the_pools_own_limit_is_named_and_nothing_saved(
    org: dict[str, Any], pool: Any
) -> None:
    client = _english(signed_in(org["east_manager"]))
    page = html(client.post(_url(pool), {**FORM, "ceiling_weekly_quota": "5", "action": "on"}))
    assert "at least the pool&#x27;s own limit (10)" in page
    assert not LimitPlan.objects.exists()


def test_a_tier_needs_both_its_rank_and_multiplier_within_bounds(
    org: dict[str, Any], pool: Any
) -> None:
    client = signed_in(org["east_manager"])
    for bad in ({"tier2_top": "50"}, {"tier1_multiplier": "9"}):
        response = client.post(_url(pool), {**FORM, **bad, "action": "on"})
        assert response.status_code == 200
        assert 'class="field-error"' in html(response)
    assert not LimitPlan.objects.exists()
