"""Performance-linked limits: a plan ranks the pool's reps by a measure and scales their
quotas and cap (never above the ceilings); the claim path reads the stored factor; a preview
writes nothing; every change of a multiplier is logged; the rep is told why; wrong roles are
refused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.insights.jobs import run_insight_jobs
from highseas.insights.limits import (
    explain_limits,
    preview_plan,
    recompute_due_plans,
    save_plan,
)
from highseas.insights.models import LimitFactorLog, LimitPlan, RepLimitFactor
from highseas.pools import followups, ownership
from highseas.pools.models import ClaimPolicy
from highseas.pools.nightly import last_night
from highseas.pools.quotas import standings
from tests.races import race

NOW = timezone.now().replace(microsecond=0)
PLAN = {
    "is_active": True,
    "measure": "win_rate",
    "window_days": 30,
    "tiers": [{"top_percent": 50, "multiplier": 1.5}, {"top_percent": 100, "multiplier": 0.5}],
    "ceiling_daily_quota": 3,
    "ceiling_holding_cap": 12,
}


def day(n: float) -> datetime:
    return NOW - timedelta(days=n)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def book(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Any]:
    """East pool: 2 claims a day, cap 10. rep_a won a deal in the window (win rate 1), rep_b
    lost one (0); six pooled customers wait."""
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=2, holding_cap=10)
    for rep, stage in ((org["rep_a"], "won"), (org["rep_b"], "lost")):
        customer = make_customer(org["admin"], pool=org["east_pool"], now=day(20))
        ownership.claim(rep, customer.pk, now=day(20))
        followups.open_deal(rep, customer.pk, amount=Decimal(1000), stage=stage, now=day(10))
    waiting = [make_customer(org["admin"], pool=org["east_pool"], now=day(5)) for _ in range(6)]
    return {**org, "waiting": waiting}


def claims(rep: Any, customers: list[Customer]) -> list[str]:
    outcomes = []
    for customer in customers:
        try:
            ownership.claim(rep, customer.pk, now=NOW)
            outcomes.append("ok")
        except HighSeasError as refused:
            outcomes.append(str(refused.code))
    return outcomes


@pytest.mark.django_db
class TestPlan:
    def test_the_preview_shows_who_gains_and_loses_and_writes_nothing(
        self, book: dict[str, Any]
    ) -> None:
        found = preview_plan(Viewer(book["east_manager"]), book["east_pool"].pk, PLAN, now=NOW)
        rows = {row["username"]: row for row in found["reps"]}
        assert (rows["rep_a"]["measured"], rows["rep_a"]["top_percent"]) == (1.0, 50.0)
        assert rows["rep_a"]["multiplier"] == Decimal("1.5")
        assert rows["rep_a"]["before"] == {"daily_quota": 2, "weekly_quota": None} | {
            "holding_cap": 10
        }
        # 2 × 1.5 = 3 (the ceiling); 10 × 1.5 = 15, held at the ceiling 12
        assert rows["rep_a"]["after"] == {"daily_quota": 3, "weekly_quota": None} | {
            "holding_cap": 12
        }
        assert rows["rep_b"]["after"] == {"daily_quota": 1, "weekly_quota": None} | {
            "holding_cap": 5
        }
        assert not LimitPlan.objects.exists() and not RepLimitFactor.objects.exists()

    def test_the_claim_path_grants_the_tier(self, book: dict[str, Any]) -> None:
        save_plan(Viewer(book["admin"]), book["east_pool"].pk, PLAN, now=NOW)
        waiting = book["waiting"]
        assert claims(book["rep_a"], waiting[:4]) == ["ok", "ok", "ok", "claim_quota_exceeded"]
        assert claims(book["rep_b"], waiting[4:]) == ["ok", "claim_quota_exceeded"]

    @pytest.mark.parametrize("count_won", [False, True])
    def test_a_claim_answers_the_standing_a_fresh_read_gives(
        self, book: dict[str, Any], count_won: bool
    ) -> None:
        ClaimPolicy.objects.filter(pool=book["east_pool"]).update(count_won_in_cap=count_won)
        save_plan(Viewer(book["admin"]), book["east_pool"].pk, PLAN, now=NOW)  # rep A: 3 a day
        won, *others = book["waiting"][:3]
        Customer.objects.filter(pk=won.pk).update(stage="won")  # a won customer back in the pool
        for customer in (won, *others):
            outcome = ownership.claim(book["rep_a"], customer.pk, now=NOW)
            pool = book["east_pool"].pk
            fresh = next(s for s in standings(book["rep_a"], NOW) if s["pool"] == pool)
            assert outcome.standing == fresh
        assert fresh["claimed_today"] == 3 and fresh["daily_left"] == 0

    def test_without_a_plan_the_pools_limits_hold(self, book: dict[str, Any]) -> None:
        assert claims(book["rep_a"], book["waiting"][:3]) == ["ok", "ok", "claim_quota_exceeded"]

    def test_a_plan_turned_off_gives_the_pools_limits_back(self, book: dict[str, Any]) -> None:
        save_plan(Viewer(book["admin"]), book["east_pool"].pk, PLAN, now=NOW)
        save_plan(Viewer(book["admin"]), book["east_pool"].pk, {"is_active": False}, now=NOW)
        assert claims(book["rep_a"], book["waiting"][:3]) == ["ok", "ok", "claim_quota_exceeded"]

    def test_each_change_of_a_multiplier_is_logged_and_audited(self, book: dict[str, Any]) -> None:
        save_plan(Viewer(book["admin"]), book["east_pool"].pk, PLAN, now=NOW)
        logged = {
            (row.rep.username, row.before, row.after, row.detail["top_percent"])
            for row in LimitFactorLog.objects.select_related("rep")
        }
        assert logged == {
            ("rep_a", Decimal(1), Decimal("1.5"), 50.0),
            ("rep_b", Decimal(1), Decimal("0.5"), 100.0),
        }
        assert AuditLog.objects.filter(
            action=AuditLog.Action.POLICY_CHANGE, target_type="limit_plan"
        ).exists()

    def test_the_scheduler_recomputes_at_night(self, book: dict[str, Any]) -> None:
        night = last_night(NOW)
        saved = night - timedelta(hours=18)  # switched on at 9:00 the day before
        save_plan(Viewer(book["admin"]), book["east_pool"].pk, PLAN, now=saved)
        RepLimitFactor.objects.all().update(multiplier=1)  # as if stale
        assert recompute_due_plans(night - timedelta(minutes=1))["limit_factors_changed"] == 0
        assert run_insight_jobs(night)["limit_factors_changed"] == 2
        # not during the day that follows, and nothing to rescore
        assert run_insight_jobs(night + timedelta(hours=23)) == {}

    @pytest.mark.django_db(transaction=True)
    def test_workers_recomputing_at_once_log_each_change_once(self, book: dict[str, Any]) -> None:
        save_plan(Viewer(book["admin"]), book["east_pool"].pk, PLAN, now=day(2))
        RepLimitFactor.objects.all().update(multiplier=1)  # as if stale
        LimitFactorLog.objects.all().delete()
        changed: list[int] = []
        outcomes = race(
            3, lambda _: changed.append(recompute_due_plans(day(1))["limit_factors_changed"])
        )
        assert outcomes == Counter({"ok": 3}) and sorted(changed) == [0, 0, 2]
        assert LimitFactorLog.objects.count() == 2

    def test_the_rep_is_told_why(self, book: dict[str, Any]) -> None:
        save_plan(Viewer(book["admin"]), book["east_pool"].pk, PLAN, now=NOW)
        found = explain_limits(book["rep_a"])
        assert [row["text"] for row in found] == [
            "daily quota 3, holding cap 12: top 50% by Win rate over the last 30 days, +50%"
        ]
        shown = {row["name"]: row for row in standings(book["rep_a"], NOW)}
        assert shown[book["east_pool"].name]["daily_quota"] == 3

    def test_a_ceiling_below_the_pools_limit_is_refused(self, book: dict[str, Any]) -> None:
        with pytest.raises(HighSeasError) as refused:
            save_plan(
                Viewer(book["admin"]),
                book["east_pool"].pk,
                PLAN | {"ceiling_daily_quota": 1},
                now=NOW,
            )
        assert list(refused.value.facts["errors"]) == ["ceiling_daily_quota"]
        assert not LimitPlan.objects.exists()

    def test_a_rep_may_not_change_a_plan_and_leaves_no_trace(self, book: dict[str, Any]) -> None:
        with pytest.raises(HighSeasError) as refused:
            save_plan(Viewer(book["rep_a"]), book["east_pool"].pk, PLAN, now=NOW)
        assert refused.value.code == ErrorCode.PERMISSION_DENIED
        assert not LimitPlan.objects.exists() and not RepLimitFactor.objects.exists()

    def test_a_manager_outside_the_pool_may_not_see_it(self, book: dict[str, Any]) -> None:
        with pytest.raises(HighSeasError) as refused:
            preview_plan(Viewer(book["south_manager"]), book["east_pool"].pk, PLAN, now=NOW)
        assert refused.value.code == ErrorCode.NOT_FOUND
