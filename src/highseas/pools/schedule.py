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


def schedule_for(
    customer: Customer, *, status: Status, owned_since: datetime | None, pool: Pool | None
) -> Schedule:
    """The schedule the customer will have in its new state."""
    if status is not Status.OWNED:
        return Schedule()
    rules = recycle_rules(pool)
    if rules is None:
        return Schedule()
    clock = CustomerClock(
        status=status,
        level=customer.level,
        is_won=customer.stage == CustomerStage.WON,
        has_open_deal=bool(rules.exempt_open_deal and customer.pk and has_open_deal(customer.pk)),
        owned_since=owned_since,
        last_effective_activity_at=customer.last_effective_activity_at,
        last_activity_at=customer.last_activity_at,
    )
    return schedule(rules, clock)
