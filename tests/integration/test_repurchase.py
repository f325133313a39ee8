"""Repurchase windows: a won customer returns to its pool N days after its last contract end
(or last won deal) with no new won deal, warned ahead; every writer of schedules agrees."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.ownership import Status
from highseas.pools import followups, ownership
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool, RecyclePolicy
from highseas.pools.preview import preview_policy
from highseas.pools.recompute import recompute_pool_schedules
from highseas.pools.schedule import schedule_for
from highseas.pools.sweep import sweep

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.get_default_timezone())
DAY = timedelta(days=1)
_names = itertools.count(1)


@pytest.fixture
def east(org: dict[str, Any]) -> dict[str, Any]:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(
        idle_days=7, warn_days=3, won_repurchase_days=30
    )
    return org


@pytest.fixture
def won(east: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    """rep_a claims a customer at T0 and wins a deal at T0 + 1 day whose contract ends at
    T0 + 100 days (and 17 seconds)."""
    customer = make_customer(east["admin"], pool=east["east_pool"], now=T0)
    ownership.claim(east["rep_a"], customer.pk, now=T0)
    followups.open_deal(
        east["rep_a"],
        customer.pk,
        amount=1000,
        stage=DealStage.WON,
        contract_end=T0 + 100 * DAY + timedelta(seconds=17),
        now=T0 + DAY,
    )
    customer.refresh_from_db()
    return customer


def window(customer: Customer) -> tuple[datetime | None, datetime | None]:
    customer.refresh_from_db()
    return customer.recycle_due_at, customer.warn_at


@pytest.mark.django_db
class TestWonCustomerReturns:
    def test_winning_a_deal_with_a_contract_end_schedules_the_window(self, won: Customer) -> None:
        end = T0 + 100 * DAY + timedelta(seconds=17)
        assert window(won) == (end + 30 * DAY, end + 27 * DAY)
        assert run_checks(T0 + 2 * DAY).ok

    def test_warned_ahead_and_recycled_exactly_at_the_window(
        self, east: dict[str, Any], won: Customer, django_capture_on_commit_callbacks: Any
    ) -> None:
        due = T0 + 130 * DAY + timedelta(seconds=17)
        assert sweep(due - 3 * DAY - timedelta(seconds=1)).warned == []
        assert [w.customer for w in sweep(due - 3 * DAY).warned] == [won.pk]
        assert sweep(due - timedelta(seconds=1)).recycled == []
        with django_capture_on_commit_callbacks(execute=True):
            recycled = sweep(due)
        assert [(r.customer, r.rule) for r in recycled.recycled] == [(won.pk, "won_repurchase")]
        won.refresh_from_db()
        assert (won.status, won.owner_id) == (CustomerStatus.POOLED, None)
        event = OwnershipEvent.objects.filter(customer=won).latest("id")
        assert (event.kind, event.actor_label) == ("recycled", "system:won_repurchase")
        assert "30" in event.reason
        assert run_checks(due).ok

    def test_a_new_won_deal_renews_the_window(self, east: dict[str, Any], won: Customer) -> None:
        renewed = T0 + 120 * DAY
        followups.open_deal(east["rep_a"], won.pk, amount=500, stage=DealStage.WON, now=renewed)
        assert window(won)[0] == renewed + 30 * DAY
        assert sweep(T0 + 131 * DAY).recycled == []
        assert run_checks(T0 + 131 * DAY).ok

    def test_changing_the_contract_end_moves_the_window(
        self, east: dict[str, Any], won: Customer
    ) -> None:
        deal = Deal.objects.get(customer=won)
        later = T0 + 200 * DAY
        updated = followups.close_deal(
            east["rep_a"],
            won.pk,
            deal.pk,
            stage=DealStage.WON,
            contract_end=later,
            now=T0 + 5 * DAY,
        )
        assert updated.won_at == T0 + DAY  # staying won keeps the day it was won
        assert window(won)[0] == later + 30 * DAY

    def test_without_a_contract_end_the_won_date_counts(
        self, east: dict[str, Any], make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(east["admin"], pool=east["east_pool"], now=T0)
        ownership.claim(east["rep_a"], customer.pk, now=T0)
        followups.open_deal(
            east["rep_a"], customer.pk, amount=1, stage=DealStage.WON, now=T0 + 2 * DAY
        )
        assert window(customer)[0] == T0 + 32 * DAY

    def test_without_a_window_won_customers_stay(self, east: dict[str, Any], won: Customer) -> None:
        RecyclePolicy.objects.filter(pool=east["east_pool"]).update(won_repurchase_days=None)
        assert recompute_pool_schedules(east["east_pool"]) == 1
        assert window(won) == (None, None)
        assert sweep(T0 + 1000 * DAY).recycled == []

    def test_recompute_sets_the_window_and_the_check_stays_clean(
        self, east: dict[str, Any], won: Customer
    ) -> None:
        RecyclePolicy.objects.filter(pool=east["east_pool"]).update(won_repurchase_days=10)
        Customer.objects.filter(pk=won.pk).update(recycle_due_at=None, warn_at=None)
        assert not run_checks(T0 + 2 * DAY).ok
        recompute_pool_schedules(east["east_pool"])
        end = T0 + 100 * DAY + timedelta(seconds=17)
        assert window(won) == (end + 10 * DAY, end + 7 * DAY)
        assert run_checks(T0 + 2 * DAY).ok

    def test_the_preview_shows_the_window_before_saving(
        self, east: dict[str, Any], won: Customer
    ) -> None:
        RecyclePolicy.objects.filter(pool=east["east_pool"]).update(won_repurchase_days=None)
        recompute_pool_schedules(east["east_pool"])
        pool = Pool.objects.select_related("recycle_policy").get(pk=east["east_pool"].pk)
        now = T0 + 95 * DAY
        preview = preview_policy(pool, {"won_repurchase_days": 5}, days=14, now=now)
        assert [(row["customer"], row["rule"]) for row in preview.customers] == [
            (won.pk, "won_repurchase")
        ]
        assert preview.current_rules_count == 0
        assert window(won) == (None, None)  # nothing written


# The bulk recompute equals the engine for won customers with any deals and any policy.
limits = st.none() | st.integers(min_value=0, max_value=60)
policies = st.fixed_dictionaries(
    {
        "idle_days": limits,
        "no_deal_days": limits,
        "first_contact_hours": limits,
        "warn_days": limits,
        "won_repurchase_days": limits,
        "exempt_won": st.booleans(),
        "exempt_open_deal": st.booleans(),
    }
)
offsets = st.timedeltas(min_value=timedelta(days=-90), max_value=timedelta(days=90))
deals = st.lists(
    st.tuples(st.sampled_from(DealStage.values), offsets, st.none() | offsets), max_size=3
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(policy=policies, shapes=st.lists(st.tuples(st.booleans(), offsets, deals), max_size=8))
@pytest.mark.django_db
def test_bulk_recompute_and_the_check_equal_the_engine(
    make_pool: Callable[..., Pool],
    make_user: Callable[..., User],
    policy: dict[str, Any],
    shapes: list[tuple[bool, timedelta, list[tuple[str, timedelta, timedelta | None]]]],
) -> None:
    start = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
    with transaction.atomic():
        pool, owner = make_pool(), make_user()
        RecyclePolicy.objects.filter(pool=pool).update(**policy)
        created = []
        for is_won, since_offset, deal_shapes in shapes:
            since = start + since_offset
            customer = Customer.objects.create(
                name=f"客户{next(_names)}",
                stage=CustomerStage.WON if is_won else CustomerStage.QUALIFIED,
                created_at=since - DAY,
                status=CustomerStatus.OWNED,
                owner=owner,
                pool=pool,
                owned_since=since,
            )
            for stage, won_offset, end_offset in deal_shapes:
                Deal.objects.create(
                    customer=customer,
                    amount=1,
                    stage=stage,
                    won_at=start + won_offset if stage == DealStage.WON else None,
                    lost_at=start if stage == DealStage.LOST else None,
                    contract_end=None if end_offset is None else start + end_offset,
                    created_at=start,
                )
            created.append(customer)

        recompute_pool_schedules(pool)

        fresh = Pool.objects.select_related("recycle_policy").get(pk=pool.pk)
        for customer in Customer.objects.filter(pk__in=[c.pk for c in created]):
            plan = schedule_for(
                customer, status=Status.OWNED, owned_since=customer.owned_since, pool=fresh
            )
            assert (customer.recycle_due_at, customer.warn_at) == (plan.due_at, plan.warn_at)
        report = run_checks(start - 365 * DAY)
        assert "schedule_mismatch" not in report.problems, report.examples
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_api_takes_a_contract_end_on_create_and_on_patch(
    east: dict[str, Any], make_customer: Callable[..., Customer], api: Callable[..., Any]
) -> None:
    customer = make_customer(east["admin"], pool=east["east_pool"])
    ownership.claim(east["rep_a"], customer.pk)
    client = api(east["rep_a"])
    created = client.post(
        f"/api/v1/customers/{customer.pk}/deals/",
        {"amount": "100", "stage": "won", "contract_end": "2031-06-30T00:00:00+08:00"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["contract_end"] == "2031-06-30T00:00:00+08:00"
    assert window(customer)[0] == datetime(2031, 7, 30, tzinfo=timezone.get_default_timezone())
    patched = client.patch(
        f"/api/v1/customers/{customer.pk}/deals/{created.json()['id']}/",
        {"stage": "won", "contract_end": "2032-01-01T00:00:00+08:00"},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["won_at"] == created.json()["won_at"]
    assert window(customer)[0] == datetime(2032, 1, 31, tzinfo=timezone.get_default_timezone())
    refused = client.patch(
        f"/api/v1/customers/{customer.pk}/deals/{created.json()['id']}/",
        {"stage": "won", "contract_end": "9999-01-01T00:00:00+08:00"},
        format="json",
    )
    assert refused.status_code == 400
    assert Deal.objects.get(customer=customer).contract_end == datetime(
        2032, 1, 1, tzinfo=timezone.get_default_timezone()
    )


@pytest.mark.django_db
def test_the_explanation_names_the_window_and_no_longer_calls_won_customers_exempt(
    won: Customer,
) -> None:
    from django.utils import translation

    from highseas.web.explain import recycle_explanation

    with translation.override("en"):
        explained = recycle_explanation(won)
    assert explained is not None
    assert explained.due_at == T0 + 130 * DAY + timedelta(seconds=17)
    assert "30" in explained.rule_text and "contract" in explained.rule_text
    assert any("contract" in line for line in explained.policy_lines)
    assert "won customers" not in explained.exemptions


@pytest.mark.django_db
def test_a_rule_assigning_a_pooled_won_customer_schedules_its_window(
    east: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    from highseas.pools.authority import RuleAuthority
    from highseas.pools.bulk_assign import Grant, assign_many

    customer = make_customer(east["admin"], pool=east["east_pool"], now=T0)
    end = T0 + 50 * DAY + timedelta(seconds=3)
    Deal.objects.create(
        customer=customer,
        amount=1,
        stage=DealStage.WON,
        won_at=T0 - 300 * DAY,
        contract_end=end,
        created_at=T0 - 300 * DAY,
    )
    Customer.objects.filter(pk=customer.pk).update(stage=CustomerStage.WON)
    authority = RuleAuthority(1, "华东", east["east_pool"].pk, frozenset([east["rep_a"].pk]))
    grant = Grant(authority, customer.pk, east["rep_a"].pk, "由规则分配")
    assert assign_many([grant], now=T0) == [grant]
    assert window(customer) == (end + 30 * DAY, end + 27 * DAY)
    assert run_checks(T0).ok
