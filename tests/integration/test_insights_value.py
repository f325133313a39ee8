"""Value levels: potential in the score, the organization's thresholds from the database, a
level locked by hand that no re-evaluation changes, the scheduler's re-evaluation (reason,
audit row by ``system:rescore``, schedule recomputed) and the customer's explanation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.insights.jobs import run_insight_jobs
from highseas.insights.models import LevelChange, LevelLock, ValueSettings
from highseas.insights.value import (
    level_explanation,
    lock_level,
    rescore,
    scheduled_rescore,
    unlock_level,
)
from highseas.pools import followups, ownership
from highseas.pools.models import RecyclePolicy
from highseas.pools.nightly import last_night

NOW = timezone.now().replace(microsecond=0)


def day(n: float) -> datetime:
    return NOW - timedelta(days=n)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def won(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Callable[..., Customer]:
    """A customer rep_a claimed 100 days ago, with deals won ``days`` ago for ``amounts``."""

    def make(amounts: list[int], days: list[float], **fields: Any) -> Customer:
        customer = make_customer(org["admin"], pool=org["east_pool"], now=day(100), **fields)
        ownership.claim(org["rep_a"], customer.pk, now=day(100))
        for amount, ago in zip(amounts, days, strict=True):
            followups.open_deal(
                org["rep_a"], customer.pk, amount=Decimal(amount), stage="won", now=day(ago)
            )
        return Customer.objects.get(pk=customer.pk)

    return make


def by_hand(wins: int, amount: int, days: float, employees: int = 0, band: float = 0) -> float:
    history = 0.3 * (1 - days / 365) + 0.3 * wins / (wins + 2) + 0.4 * amount / (amount + 100_000)
    potential = 0.4 * employees / (employees + 200) + 0.4 * band
    return round(min(100, 100 * history + 20 * potential), 2)


@pytest.mark.django_db
class TestPotential:
    def test_size_and_revenue_lift_the_score_by_hand(self, org: dict[str, Any], won: Any) -> None:
        customer = won([30_000, 20_000, 10_000], [200, 100, 10], employees=500)
        customer.revenue_band = "10m-100m"
        Customer.objects.filter(pk=customer.pk).update(revenue_band="10m-100m")
        found = rescore(Viewer(org["admin"]), now=NOW, dry_run=True)["changes"]
        expected = by_hand(3, 60_000, 10, employees=500, band=0.5)
        assert [(c["customer"], c["to"], c["score"]) for c in found] == [
            (customer.pk, "A", expected)
        ]
        assert found[0]["reason"] == (
            "3 wins in the last 12 months, ¥60,000 in all; 500 employees; revenue ¥10M–100M"
        )

    def test_the_organizations_industry_weight_counts(self, org: dict[str, Any], won: Any) -> None:
        customer = won([], [], industry="制造业")
        ValueSettings.objects.create(
            threshold_a=60, threshold_b=3, industry_weights={"制造业": 1.0}
        )
        found = rescore(Viewer(org["admin"]), now=NOW)["changes"]
        assert [(c["customer"], c["to"], c["score"]) for c in found] == [(customer.pk, "B", 4.0)]
        assert found[0]["reason"] == "no win in the last 12 months; industry 制造业"


@pytest.mark.django_db
class TestOrganizationThresholds:
    def test_thresholds_come_from_the_database(self, org: dict[str, Any], won: Any) -> None:
        customer = won([20_000], [30])
        score = by_hand(1, 20_000, 30)
        assert rescore(Viewer(org["admin"]), now=NOW, dry_run=True)["changes"][0]["to"] == "B"
        ValueSettings.objects.create(threshold_a=score, threshold_b=score - 1)
        found = rescore(Viewer(org["admin"]), now=NOW)["changes"]
        assert [(c["customer"], c["to"]) for c in found] == [(customer.pk, "A")]
        assert Customer.objects.get(pk=customer.pk).level == "A"


@pytest.mark.django_db
class TestLock:
    def test_a_locked_level_survives_both_rescores(self, org: dict[str, Any], won: Any) -> None:
        customer = won([500_000, 400_000], [5, 3])
        lock_level(Viewer(org["east_manager"]), customer.pk, level="C", reason="关系户", now=NOW)
        assert rescore(Viewer(org["admin"]), now=NOW)["changes"] == []
        assert scheduled_rescore(NOW, force=True) == {"rescored": 0}
        assert Customer.objects.get(pk=customer.pk).level == "C"

    def test_unlocking_hands_the_level_back_to_the_score(
        self, org: dict[str, Any], won: Any
    ) -> None:
        customer = won([500_000, 400_000], [5, 3])
        lock_level(Viewer(org["admin"]), customer.pk, level="C", now=NOW)
        unlock_level(Viewer(org["admin"]), customer.pk)
        found = rescore(Viewer(org["admin"]), now=NOW)["changes"]
        assert [(c["customer"], c["from"], c["to"]) for c in found] == [(customer.pk, "C", "A")]

    def test_a_lock_is_logged_with_its_reason(self, org: dict[str, Any], won: Any) -> None:
        customer = won([], [])
        lock_level(Viewer(org["admin"]), customer.pk, level="A", reason="战略客户", now=NOW)
        change = LevelChange.objects.get(customer=customer)
        assert (change.from_level, change.to_level, change.trigger) == ("C", "A", "lock")
        assert change.reason == {"lock": "战略客户"}
        assert change.actor == org["admin"]

    def test_a_rep_may_not_lock_and_leaves_no_trace(self, org: dict[str, Any], won: Any) -> None:
        customer = won([], [])
        with pytest.raises(HighSeasError) as refused:
            lock_level(Viewer(org["rep_a"]), customer.pk, level="A", now=NOW)
        assert refused.value.code == ErrorCode.PERMISSION_DENIED
        assert not LevelLock.objects.exists()
        assert not LevelChange.objects.exists()
        assert Customer.objects.get(pk=customer.pk).level == "C"

    def test_a_manager_may_not_lock_another_teams_customer(
        self, org: dict[str, Any], make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(org["admin"], pool=org["south_pool"], now=day(10))
        ownership.claim(org["rep_c"], customer.pk, now=day(10))
        with pytest.raises(HighSeasError) as refused:
            lock_level(Viewer(org["east_manager"]), customer.pk, level="A", now=NOW)
        assert refused.value.code in (ErrorCode.NOT_FOUND, ErrorCode.NOT_OWNER)
        assert not LevelLock.objects.exists()

    @hypothesis_settings(
        max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        level=st.sampled_from(["A", "B", "C"]),
        amounts=st.lists(st.integers(1, 2_000_000), max_size=4),
        employees=st.one_of(st.none(), st.integers(0, 100_000)),
        threshold_b=st.floats(0, 50),
    )
    def test_property_a_locked_level_never_changes(
        self,
        org: dict[str, Any],
        won: Any,
        level: str,
        amounts: list[int],
        employees: int | None,
        threshold_b: float,
    ) -> None:
        customer = won(amounts, [1 + i for i in range(len(amounts))], employees=employees)
        lock_level(Viewer(org["admin"]), customer.pk, level=level, now=NOW)
        ValueSettings.objects.all().delete()
        ValueSettings.objects.create(threshold_a=threshold_b + 10, threshold_b=threshold_b)
        changed = {c["customer"] for c in rescore(Viewer(org["admin"]), now=NOW)["changes"]}
        scheduled_rescore(NOW, force=True)
        assert customer.pk not in changed
        assert Customer.objects.get(pk=customer.pk).level == level


@pytest.mark.django_db
class TestScheduledRescore:
    def test_the_scheduler_rescores_with_reason_audit_and_schedule(
        self, org: dict[str, Any], won: Any
    ) -> None:
        RecyclePolicy.objects.filter(pool=org["east_pool"]).update(
            exempt_levels=["A"], exempt_won=False, idle_days=200
        )
        customer = won([300_000, 200_000, 100_000], [60, 30, 3], employees=500)
        assert customer.recycle_due_at is not None  # C is not exempt
        assert run_insight_jobs(NOW)["rescored"] == 1
        after = Customer.objects.get(pk=customer.pk)
        assert (after.level, after.status) == ("A", "owned")
        assert after.recycle_due_at is None  # A is exempt: the schedule followed the level
        change = LevelChange.objects.get(customer=customer)
        assert (change.from_level, change.to_level, change.trigger) == ("C", "A", "scheduled")
        assert change.reason["wins"] == 3 and change.reason["amount"] == "600000.00"
        assert change.reason["employees"] == 500
        audit = AuditLog.objects.get(action=AuditLog.Action.CUSTOMER_EDIT)
        assert audit.actor is None
        assert audit.detail == {"field": "level", "before": "C", "after": "A"} | {
            "by": "system:rescore"
        }

    def test_the_scheduler_waits_for_the_night(self, org: dict[str, Any], won: Any) -> None:
        night = last_night(NOW)
        started = night - timedelta(hours=18)  # a server started at 9:00, first rescored then
        ValueSettings.objects.create(rescore_every_hours=24, last_rescored_at=started)
        customer = won([300_000, 200_000, 100_000], [60, 30, 3])
        assert scheduled_rescore(night - timedelta(minutes=1)) == {"rescored": 0}
        assert Customer.objects.get(pk=customer.pk).level == "C"
        assert scheduled_rescore(night) == {"rescored": 1}  # 18 hours on, not 24
        assert ValueSettings.objects.get().last_rescored_at == night
        assert scheduled_rescore(night + timedelta(hours=23)) == {"rescored": 0}

    def test_a_rescore_that_lost_the_race_changes_nothing(
        self, org: dict[str, Any], won: Any
    ) -> None:
        customer = won([300_000, 200_000, 100_000], [60, 30, 3])
        Customer.objects.filter(pk=customer.pk).update(level="B")  # moved on after scoring
        from highseas.insights.value import _apply_batch

        change = {"customer": customer.pk, "from": "C", "to": "A", "score": 80.0, "reason": {}}
        assert _apply_batch([change], NOW) == 0
        assert Customer.objects.get(pk=customer.pk).level == "B"
        assert not LevelChange.objects.exists() and not AuditLog.objects.exists()

    def test_a_batch_applies_what_still_holds_and_drops_what_moved_on(
        self, org: dict[str, Any], won: Any
    ) -> None:
        from highseas.insights.value import _apply_batch

        kept, moved, locked = (won([300_000, 200_000, 100_000], [60, 30, 3]) for _ in range(3))
        Customer.objects.filter(pk=moved.pk).update(level="B")
        LevelLock.objects.create(customer=locked, level="C", locked_at=NOW)
        changes = [
            {"customer": pk, "from": "C", "to": "A", "score": 80.0, "reason": {"wins": 3}}
            for pk in (kept.pk, moved.pk, locked.pk)
        ]
        assert _apply_batch(changes, NOW) == 1
        levels = dict(Customer.objects.values_list("pk", "level"))
        assert (levels[kept.pk], levels[moved.pk], levels[locked.pk]) == ("A", "B", "C")
        assert list(LevelChange.objects.values_list("customer_id", "reason")) == [
            (kept.pk, {"wins": 3})
        ]
        assert list(AuditLog.objects.values_list("target_id", flat=True)) == [str(kept.pk)]

    def test_each_schedule_follows_its_new_level_as_the_engine_computes_it(
        self, org: dict[str, Any], won: Any, make_customer: Callable[..., Customer]
    ) -> None:
        from highseas.pools.invariants import run_checks
        from highseas.pools.leave import record_leave
        from highseas.pools.recompute import recompute_pool_schedules

        RecyclePolicy.objects.filter(pool=org["east_pool"]).update(
            idle_days=40,
            exempt_won=False,
            exempt_open_deal=True,
            level_overrides={"A": {"idle_days": 90}, "B": {"idle_days": 60}},
            leave_mode="pause",
        )
        recompute_pool_schedules(org["east_pool"])
        rising = [won([300_000, 200_000, 100_000], [60, 30, 3]) for _ in range(3)]
        won([40_000], [20], employees=300)  # a B customer, perhaps
        with_deal = won([300_000, 200_000, 100_000], [60, 30, 3])
        followups.open_deal(org["rep_a"], with_deal.pk, amount=Decimal(1000), now=day(1))
        falling = make_customer(org["admin"], pool=org["east_pool"], now=day(100), level="A")
        ownership.claim(org["rep_b"], falling.pk, now=day(50))
        pooled = make_customer(org["admin"], pool=org["east_pool"], now=day(5), level="A")
        record_leave(
            Viewer(org["admin"]),
            org["rep_a"].pk,
            leave_from=day(10).date(),
            leave_until=day(2).date(),
        )
        before = dict(Customer.objects.values_list("pk", "recycle_due_at"))
        assert scheduled_rescore(NOW, force=True)["rescored"] >= 6
        after = {c.pk: c for c in Customer.objects.all()}
        assert {after[c.pk].level for c in rising} == {"A"}
        assert (after[falling.pk].level, after[pooled.pk].level) == ("C", "C")
        assert after[pooled.pk].recycle_due_at is None
        assert after[with_deal.pk].recycle_due_at is None  # the open deal exempts it
        assert all(after[c.pk].recycle_due_at != before[c.pk] for c in rising)
        assert run_checks().ok, run_checks().examples  # every schedule as the engine says

    def test_a_batch_that_lost_a_race_is_redone_change_by_change(
        self, org: dict[str, Any], won: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from highseas.insights import value

        customers = [won([300_000, 200_000, 100_000], [60, 30, 3]) for _ in range(3)]
        real, calls = value.update_rows, []

        def short_once(*args: Any, **kwargs: Any) -> int:
            calls.append(len(args[2]))
            written = real(*args, **kwargs)
            return written - 1 if len(calls) == 1 else written

        monkeypatch.setattr(value, "update_rows", short_once)
        assert scheduled_rescore(NOW, force=True) == {"rescored": 3}
        assert calls == [3, 1, 1, 1]  # the batch, rolled back, then each change alone
        assert {c.level for c in Customer.objects.filter(pk__in=[c.pk for c in customers])} == {"A"}
        assert (
            LevelChange.objects.count() == 3
            and AuditLog.objects.filter(action=AuditLog.Action.CUSTOMER_EDIT).count() == 3
        )


@pytest.mark.django_db
class TestExplanation:
    def test_the_customer_page_reason(self, org: dict[str, Any], won: Any) -> None:
        customer = won([100_000, 150_000, 50_000], [100, 50, 5], employees=500)
        found = level_explanation(Viewer(org["rep_a"]), customer, now=NOW)
        assert found["text"] == "3 wins in the last 12 months, ¥300,000 in all; 500 employees"
        assert found["score"] == by_hand(3, 300_000, 5, employees=500)
        assert found["locked"] is False

    def test_the_reason_in_chinese(self, org: dict[str, Any], won: Any) -> None:
        customer = won([100_000, 150_000, 50_000], [100, 50, 5], employees=500)
        with translation.override("zh-hans"):
            text = level_explanation(Viewer(org["rep_a"]), customer, now=NOW)["text"]
        assert text == "近 12 个月成交 3 次，合计 ¥300,000；规模 500 人"

    def test_a_locked_level_says_who_locked_it(self, org: dict[str, Any], won: Any) -> None:
        customer = won([], [])
        lock_level(Viewer(org["east_manager"]), customer.pk, level="A", reason="战略", now=NOW)
        found = level_explanation(Viewer(org["rep_a"]), customer, now=NOW)
        assert (found["locked"], found["lock_reason"]) == (True, "战略")
        assert found["locked_by"] == org["east_manager"].label
