"""Keeping ``recycle_due_at`` / ``warn_at`` current: the engine computes, this applies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from highseas.accounts.models import RepProfile
from highseas.customers.choices import CustomerStage, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.ownership import Status
from highseas.engine.recycle import CustomerClock, Pauses, RecycleRules, Schedule, schedule
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


def leave_span(
    leave_from: date | None, leave_until: date | None
) -> tuple[datetime, datetime] | None:
    """A recorded leave as the moments it covers: from the start of its first day to the end
    of its last, in the organization's time zone; a leave missing either date is none."""
    if leave_from is None or leave_until is None:
        return None
    start = timezone.make_aware(datetime.combine(leave_from, time.min))
    end = timezone.make_aware(datetime.combine(leave_until + timedelta(days=1), time.min))
    return start, end


def leave_pauses(owner_ids: Iterable[int | None]) -> dict[int, Pauses]:
    """The owners' leaves as the engine's clock pauses (``CustomerClock.pauses``); owners
    without a recorded leave are absent. One query."""
    wanted = sorted({owner for owner in owner_ids if owner is not None})
    if not wanted:
        return {}
    rows = RepProfile.objects.filter(
        user_id__in=wanted, leave_from__isnull=False, leave_until__isnull=False
    ).values_list("user_id", "leave_from", "leave_until")
    return {user: (span,) for user, start, end in rows if (span := leave_span(start, end))}


def clock_of(
    customer: Customer,
    *,
    status: Status,
    owned_since: datetime | None,
    check_open_deal: bool,
    check_won_until: bool = False,
    pauses: Pauses = (),
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
        pauses=pauses,
    )


def schedule_for(
    customer: Customer,
    *,
    status: Status,
    owned_since: datetime | None,
    pool: Pool | None,
    owner_id: int | None = None,
) -> Schedule:
    """The schedule the customer will have in its new state, owned by ``owner_id`` (by
    default its current owner), whose recorded leave pauses the clocks where the pool says so."""
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
        pauses=_owner_pauses(rules, owner_id or customer.owner_id),
    )
    return schedule(rules, clock)


def _owner_pauses(rules: RecycleRules, owner_id: int | None) -> Pauses:
    if rules.leave_mode != "pause" or owner_id is None:
        return ()
    return leave_pauses([owner_id]).get(owner_id, ())


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
