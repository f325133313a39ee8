"""Keeping ``recycle_due_at`` / ``warn_at`` current: the engine computes, this applies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Max
from django.db.models.functions import Coalesce

from highseas.customers.choices import CustomerStage, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.ownership import Status
from highseas.engine.recycle import CustomerClock, Schedule, schedule
from highseas.pools.facts import has_open_deal
from highseas.pools.models import Pool
from highseas.pools.policies import recycle_rules

# When a won deal's term ends: its contract end, or without one the moment it was won.
WON_DEAL_END = Coalesce("contract_end", "won_at")


def won_until(customer_ids: Iterable[int]) -> dict[int, datetime]:
    """Each won customer's repurchase anchor (``CustomerClock.won_until``): the latest end
    of its won deals; customers without a won deal are absent."""
    rows = (
        Deal.objects.filter(customer_id__in=sorted(set(customer_ids)), stage=DealStage.WON)
        .values("customer_id")
        .annotate(until=Max(WON_DEAL_END))
        .values_list("customer_id", "until")
    )
    return {customer_id: until for customer_id, until in rows if until is not None}


def clock_of(
    customer: Customer,
    *,
    status: Status,
    owned_since: datetime | None,
    check_open_deal: bool,
    check_won_until: bool = False,
) -> CustomerClock:
    is_won = customer.stage == CustomerStage.WON
    return CustomerClock(
        status=status,
        level=customer.level,
        is_won=is_won,
        has_open_deal=bool(check_open_deal and customer.pk and has_open_deal(customer.pk)),
        owned_since=owned_since,
        last_effective_activity_at=customer.last_effective_activity_at,
        last_activity_at=customer.last_activity_at,
        won_until=(
            won_until([customer.pk]).get(customer.pk)
            if check_won_until and is_won and customer.pk
            else None
        ),
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
        customer,
        status=status,
        owned_since=owned_since,
        check_open_deal=rules.exempt_open_deal,
        check_won_until=rules.won_repurchase_days is not None,
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
