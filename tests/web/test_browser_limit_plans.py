"""Performance-linked limits in a real browser: a manager builds a plan for the east pool,
previews who would gain or lose how much, turns it on, and the rep who tops the ranking reads
why their weekly quota rose beside it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from highseas.insights.models import LimitPlan, RepLimitFactor
from highseas.pools import followups, ownership
from highseas.pools.models import ClaimPolicy, Pool

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _closed(world: dict[str, Any], make_customer: Any, rep: str, stage: str) -> None:
    """A customer ``rep`` claimed twelve days ago and whose deal closed ``stage`` after."""
    now = timezone.now()
    pool = Pool.objects.get(name="华东公海")
    customer = make_customer(world["admin"], pool=pool, now=now - timedelta(days=13))
    ownership.claim(world[rep], customer.pk, now=now - timedelta(days=12))
    followups.open_deal(
        world[rep], customer.pk, amount=Decimal(80_000), stage=stage, now=now - timedelta(days=3)
    )


def test_a_manager_turns_a_plan_on_and_the_rep_reads_why(
    world: dict[str, Any], make_customer: Any, sign_in: Any, screenshot: Any
) -> None:
    pool = Pool.objects.get(name="华东公海")
    ClaimPolicy.objects.filter(pool=pool).update(daily_quota=5, weekly_quota=10)
    _closed(world, make_customer, "rep_a", "won")
    _closed(world, make_customer, "rep_b", "lost")
    manager = sign_in("mgr_east")
    manager.click("nav.topnav >> text=管理台")
    manager.click(".console-tabs >> text=洞察")
    manager.click("[data-manage-plans]")
    manager.click(f"tr[data-pool='{pool.pk}'] a.btn")
    manager.select_option("#id_measure", "win_rate")
    manager.fill("#id_window_days", "30")
    manager.fill("#id_tier1_top", "50")
    manager.fill("#id_tier1_multiplier", "1.5")
    manager.fill("#id_ceiling_daily_quota", "10")
    manager.fill("#id_ceiling_weekly_quota", "20")
    manager.click("[data-action=preview]")
    manager.wait_for_selector("[data-preview]")
    row_a = manager.inner_text("[data-preview] tr[data-rep=rep_a]")
    assert "×1.50" in row_a and "15 +5" in row_a  # weekly 10 → 15
    assert "×1.00" in manager.inner_text("[data-preview] tr[data-rep=rep_b]")
    assert not LimitPlan.objects.exists()
    screenshot(manager, "41-limit-plan-preview")
    manager.click("[data-action=on]")
    manager.wait_for_selector("[data-plan-state=on]")
    assert LimitPlan.objects.get(pool=pool).is_active
    assert RepLimitFactor.objects.get(pool=pool, rep=world["rep_a"]).multiplier == Decimal("1.5")
    screenshot(manager, "42-limit-plan-on")
    rep = sign_in("rep_a")
    reason = rep.inner_text("[data-limit-reason]")
    assert "每周额度 15" in reason and "前 50%" in reason and "+50%" in reason, reason
    screenshot(rep, "43-limit-plan-rep")
