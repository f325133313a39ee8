"""``highseas check`` judges stored schedules against the engine, and each claim by the quota
in force when it was made."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import ProtectedError
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.engine.limits import ClaimLimits
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.pools import ownership
from highseas.pools.followups import log_activity, open_deal
from highseas.pools.invariants import run_checks
from highseas.pools.models import ClaimPolicy, OwnershipEvent, Pool, RecyclePolicy
from highseas.pools.quotas import Quotas, quota_ref, recorded_quotas
from highseas.pools.recompute import recompute_pool_schedules
from highseas.routing.models import AssignmentDecision, AssignmentRule, AssignmentRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(org: dict[str, Any]) -> Pool:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=30, warn_days=3)
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    recompute_pool_schedules(pool)
    return pool


@pytest.fixture
def owned(org: dict[str, Any], pool: Pool, make_customer: Callable[..., Customer]) -> Customer:
    customer = make_customer(org["rep_a"], owner=org["rep_a"], pool=pool)
    log_activity(org["rep_a"], customer.pk, kind="call")
    customer.refresh_from_db()
    return customer


def _problems() -> dict[str, int]:
    return run_checks().problems


def test_stored_schedules_that_follow_the_policy_pass(owned: Customer) -> None:
    assert owned.recycle_due_at is not None and owned.warn_at is not None
    assert run_checks().ok


def test_a_due_time_moved_behind_the_services_back_is_reported(owned: Customer) -> None:
    due = owned.recycle_due_at
    assert due is not None
    Customer.objects.filter(pk=owned.pk).update(recycle_due_at=due + timedelta(days=1))
    report = run_checks()
    assert report.problems == {"schedule_mismatch": 1}
    assert report.examples[0].startswith(f"schedule_mismatch: customer {owned.pk}:")


def test_an_owned_customer_left_unscheduled_is_reported(owned: Customer) -> None:
    Customer.objects.filter(pk=owned.pk).update(recycle_due_at=None)
    assert _problems() == {"schedule_mismatch": 1}


def test_a_changed_warning_time_is_reported(owned: Customer) -> None:
    Customer.objects.filter(pk=owned.pk).update(warn_at=None)
    assert _problems() == {"schedule_mismatch": 1}


def test_a_warning_the_sweep_cleared_after_its_time_passes(owned: Customer) -> None:
    Customer.objects.filter(pk=owned.pk).update(warn_at=None)
    assert owned.warn_at is not None
    assert run_checks(now=owned.warn_at).ok
    assert run_checks(now=owned.warn_at - timedelta(seconds=1)).problems == {"schedule_mismatch": 1}


def test_a_pooled_customer_with_a_due_time_is_reported(
    org: dict[str, Any], pool: Pool, make_customer: Callable[..., Customer]
) -> None:
    pooled = make_customer(org["admin"], pool=pool)
    Customer.objects.filter(pk=pooled.pk).update(recycle_due_at=timezone.now())
    assert _problems() == {"schedule_mismatch": 1}


def test_an_open_deal_exemption_is_judged_like_the_engine(
    org: dict[str, Any], owned: Customer
) -> None:
    RecyclePolicy.objects.filter(pool=owned.pool).update(exempt_open_deal=True)
    recompute_pool_schedules(Pool.objects.get(pk=org["east_pool"].pk))
    open_deal(org["rep_a"], owned.pk, amount=Decimal("100"))
    owned.refresh_from_db()
    assert owned.recycle_due_at is None
    assert run_checks().ok


def _claims(org: dict[str, Any], make_customer: Callable[..., Customer], count: int) -> None:
    for _ in range(count):
        customer = make_customer(org["admin"], pool=org["east_pool"])
        ownership.claim(org["rep_a"], customer.pk)


def test_a_claim_records_the_quotas_it_was_judged_by(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=5)
    _claims(org, make_customer, 1)
    event = OwnershipEvent.objects.get(kind="claimed")
    assert recorded_quotas(event.policy_ref) == Quotas(daily=5, weekly=None)


def test_a_quota_lowered_after_legal_claims_is_no_breach(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=3, weekly_quota=3)
    _claims(org, make_customer, 3)
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=1, weekly_quota=1)
    assert run_checks().ok


def test_a_claim_past_the_quota_it_recorded_is_reported(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=2)
    _claims(org, make_customer, 2)
    forced = make_customer(org["admin"], pool=org["east_pool"])
    ownership.move(
        ownership.load_customer(forced.pk),
        EventKind.CLAIMED,
        OwnershipState(Status.OWNED, org["rep_a"].pk, org["east_pool"].pk),
        actor=org["rep_a"],
        reason="forced",
        now=timezone.now(),
        policy_ref=quota_ref(ClaimLimits(daily_quota=2)),
    )
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=None)
    report = run_checks()
    assert report.problems == {"claim_quota_exceeded": 1}
    assert "claim 3" in report.examples[0] and "quota 2 then" in report.examples[0]


def test_a_claim_that_recorded_no_quota_is_judged_by_todays(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    _claims(org, make_customer, 3)
    OwnershipEvent.objects.filter(kind="claimed").update(policy_ref="")
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=2)
    assert _problems() == {"claim_quota_exceeded": 1}


def test_quota_refs_read_back_what_they_wrote() -> None:
    for limits in (ClaimLimits(), ClaimLimits(daily_quota=0, weekly_quota=7)):
        assert recorded_quotas(quota_ref(limits)) == Quotas(limits.daily_quota, limits.weekly_quota)
    assert recorded_quotas("pool:3/recycle_policy") is None
    assert recorded_quotas("claim_quota day=x week=2") is None


def test_a_cap_an_admin_lowered_below_holdings_is_no_breach(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    from highseas.pools.services import save_pool

    pool = org["east_pool"]
    _claims(org, make_customer, 3)
    save_pool(pool, claim_policy={"holding_cap": 2}, actor=org["admin"])
    assert run_checks().ok


def _sneak_claim(org: dict[str, Any], make_customer: Callable[..., Customer]) -> None:
    """A claim recorded like any claim, past every limit (as a race would slip one in)."""
    from highseas.pools.ledger import record_event, state_of

    pool = org["east_pool"]
    sneaked = make_customer(org["admin"], pool=pool)
    before = state_of(sneaked)
    Customer.objects.filter(pk=sneaked.pk).update(
        status="owned", owner=org["rep_a"], owned_since=timezone.now()
    )
    recompute_pool_schedules(Pool.objects.get(pk=pool.pk))
    after = OwnershipState(Status.OWNED, org["rep_a"].pk, pool.pk)
    record_event(
        sneaked,
        EventKind.CLAIMED,
        before,
        after,
        actor=org["rep_a"],
        reason="抢",
        at=timezone.now(),
    )


def test_a_gain_past_a_cap_after_it_was_lowered_is_a_breach(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    from highseas.pools.services import save_pool

    pool = org["east_pool"]
    _claims(org, make_customer, 2)
    save_pool(pool, claim_policy={"holding_cap": 2}, actor=org["admin"])
    assert run_checks().ok
    _sneak_claim(org, make_customer)  # a claim that slipped past the cap
    report = run_checks()
    assert report.problems.get("holding_cap_exceeded") == 1, report.examples


def _tier(org: dict[str, Any], multiplier: str, ceiling_cap: int) -> None:
    """A plan on for the east pool that gives rep_a ``multiplier`` on the holding cap."""
    from highseas.insights.models import LimitPlan, RepLimitFactor

    pool = org["east_pool"]
    LimitPlan.objects.create(
        pool=pool,
        is_active=True,
        tiers=[{"top_percent": 50, "multiplier": float(multiplier)}],
        ceiling_holding_cap=ceiling_cap,
    )
    RepLimitFactor.objects.create(
        pool=pool,
        rep=org["rep_a"],
        multiplier=Decimal(multiplier),
        top_percent=10,
        computed_at=timezone.now(),
    )


def test_holdings_above_the_base_cap_within_the_tiered_cap_are_no_breach(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=2)
    _tier(org, "1.5", ceiling_cap=3)
    _claims(org, make_customer, 3)  # the claim service lets the tier's third one through
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 3
    assert run_checks().ok


def test_holdings_above_the_tiered_cap_are_a_breach(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=2)
    _tier(org, "1.5", ceiling_cap=3)
    _claims(org, make_customer, 3)
    _sneak_claim(org, make_customer)
    report = run_checks()
    assert report.problems == {"holding_cap_exceeded": 1}, report.examples
    assert "holds 4 (cap 3)" in report.examples[0]


def test_a_tier_below_one_tightens_the_cap_the_check_judges_by(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=4)
    _claims(org, make_customer, 3)
    _tier(org, "0.5", ceiling_cap=4)
    _sneak_claim(org, make_customer)  # a gain after the tier: 4 held against a cap of 2
    report = run_checks()
    assert report.problems == {"holding_cap_exceeded": 1}, report.examples
    assert "cap 2" in report.examples[0]


@pytest.fixture
def decided(org: dict[str, Any], owned: Customer) -> AssignmentDecision:
    """A real run's decision that gave ``owned`` to rep_a by a rule."""
    rule = AssignmentRule.objects.create(
        name="华东", pool=owned.pool, target={"type": "user", "user_id": org["rep_a"].pk}
    )
    now = timezone.now()
    run = AssignmentRun.objects.create(started_at=now, now=now, dry_run=False, seed=1)
    return AssignmentDecision.objects.create(
        run=run, customer=owned, rule=rule, owner=org["rep_a"], outcome="assigned", at=now
    )


def test_the_decision_log_is_kept_whole_by_the_orms_deletions(
    org: dict[str, Any], decided: AssignmentDecision
) -> None:
    assert run_checks().ok
    with pytest.raises(ProtectedError) as refused:
        org["rep_a"].delete()
    assert decided in refused.value.protected_objects  # a decision naming them protects them
    assert decided.rule is not None
    decided.rule.delete()
    decided.refresh_from_db()
    assert decided.rule_id is None  # set null, as the rule's foreign key says
    assert run_checks().ok
    decided.run.delete()
    assert not AssignmentDecision.objects.filter(pk=decided.pk).exists()  # cascaded
    assert run_checks().ok


@pytest.mark.parametrize("column", ["run_id", "customer_id", "rule_id", "owner_id"])
def test_a_decision_naming_a_row_that_is_gone_is_reported(
    decided: AssignmentDecision, column: str
) -> None:
    # the database no longer refuses it (no constraint on the log): written behind the ORM
    AssignmentDecision.objects.filter(pk=decided.pk).update(**{column: 10**9})
    report = run_checks()
    assert report.problems == {"decision_dangling": 1}
    assert report.examples == [
        f"decision_dangling: decision {decided.pk} "
        f"(run {AssignmentDecision.objects.get(pk=decided.pk).run_id}, "
        f"customer {AssignmentDecision.objects.get(pk=decided.pk).customer_id})"
    ]
