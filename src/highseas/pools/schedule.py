"""Keeping ``recycle_due_at`` / ``warn_at`` current: the engine computes, this applies."""

from __future__ import annotations

from datetime import datetime

from highseas.customers.choices import CustomerStage
from highseas.customers.models import Customer
from highseas.engine.ownership import Status
from highseas.engine.recycle import CustomerClock, Schedule, schedule
from highseas.pools.facts import has_open_deal
from highseas.pools.models import Pool
from highseas.pools.policies import recycle_rules


def clock_of(
    customer: Customer, *, status: Status, owned_since: datetime | None, check_open_deal: bool
) -> CustomerClock:
    return CustomerClock(
        status=status,
        level=customer.level,
        is_won=customer.stage == CustomerStage.WON,
        has_open_deal=bool(check_open_deal and customer.pk and has_open_deal(customer.pk)),
        owned_since=owned_since,
        last_effective_activity_at=customer.last_effective_activity_at,
        last_activity_at=customer.last_activity_at,
    )


def schedule_for(
    customer: Customer, *, status: Status, owned_since: datetime | None, pool: Pool | None
) -> Schedule:
    """The schedule the customer will have in its new state."""
    if status is not Status.OWNED:
        return Schedule()
    rules = recycle_rules(pool)
    if rules is None:
        return Schedule()
    clock = clock_of(
        customer, status=status, owned_since=owned_since, check_open_deal=rules.exempt_open_deal
    )
    return schedule(rules, clock)


def refresh_schedule(customer: Customer) -> Schedule:
    """Recompute a customer's schedule in place after a follow-up or a deal changed it.
    Call inside the transaction that holds the customer's row lock."""
    plan = schedule_for(
        customer,
        status=Status(customer.status),
        owned_since=customer.owned_since,
        pool=customer.pool,
    )
    Customer.objects.filter(pk=customer.pk, status=customer.status).update(
        recycle_due_at=plan.due_at, warn_at=plan.warn_at
    )
    customer.recycle_due_at, customer.warn_at = plan.due_at, plan.warn_at
    return plan
