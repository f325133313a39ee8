""" "What would these recycle settings take back in the next N days?" — asked before saving.

The pool's owned customers are judged by the engine under the proposed rules, exactly as the
sweep would judge them, for every moment up to ``now + days``. Nothing is written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.customers.choices import CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.ownership import Status
from highseas.engine.recycle import Pauses, RecycleRules, schedule
from highseas.pools.models import Pool
from highseas.pools.policies import recycle_rules
from highseas.pools.schedule import clock_of, leave_pauses, won_until
from highseas.pools.sweep import REASONS

RULE_FIELDS = (
    "idle_days",
    "no_deal_days",
    "first_contact_hours",
    "warn_days",
    "exempt_won",
    "exempt_open_deal",
    "exempt_levels",
    "level_overrides",
    "won_repurchase_days",
    "leave_mode",
)


@dataclass
class PolicyPreview:
    days: int
    now: datetime
    customers: list[dict[str, Any]] = field(default_factory=list)
    by_owner: dict[str, int] = field(default_factory=dict)
    by_day: dict[str, int] = field(default_factory=dict)
    current_rules_count: int = 0


def proposed_rules(pool: Pool, changes: dict[str, Any]) -> RecycleRules:
    current = recycle_rules(pool) or RecycleRules()
    updates = {key: value for key, value in changes.items() if key in RULE_FIELDS}
    if "exempt_levels" in updates:
        updates["exempt_levels"] = frozenset(updates["exempt_levels"] or ())
    if "level_overrides" in updates:
        updates["level_overrides"] = dict(updates["level_overrides"] or {})
    return replace(current, **updates)


def _due_within(
    rules: RecycleRules,
    customers: list[Customer],
    open_deals: set[int],
    horizon: datetime,
    won_ends: dict[int, datetime],
    leaves: dict[int, Pauses],
) -> list[tuple[Customer, Any]]:
    found = []
    for customer in customers:
        clock = clock_of(
            customer, status=Status.OWNED, owned_since=customer.owned_since, check_open_deal=False
        )
        clock = replace(
            clock,
            has_open_deal=customer.pk in open_deals,
            won_until=won_ends.get(customer.pk),
            pauses=leaves.get(customer.owner_id or 0, ()),
        )
        plan = schedule(rules, clock)
        due = plan.due_at
        if due is not None and customer.status == CustomerStatus.FROZEN:
            due = max(due, customer.frozen_until or due)  # protected until the freeze ends
        if due is None or due > horizon:
            continue
        found.append((customer, replace(plan, due_at=due)))
    return found


def preview_policy(
    pool: Pool,
    changes: dict[str, Any],
    *,
    days: int = 7,
    now: datetime | None = None,
    owner_ids: frozenset[int] | None = None,
) -> PolicyPreview:
    """The preview over the pool's held customers, or only those of ``owner_ids`` (what a
    manager sees in full); every count and row comes from that same set."""
    now = now or timezone.now()
    horizon = now + timedelta(days=days)
    held = Customer.objects.filter(
        pool=pool, status__in=[CustomerStatus.OWNED, CustomerStatus.FROZEN]
    )
    if owner_ids is not None:
        held = held.filter(owner_id__in=sorted(owner_ids))
    customers = list(held.select_related("owner"))
    open_deals = set(
        Deal.objects.filter(customer__in=held)
        .exclude(stage__in=[DealStage.WON, DealStage.LOST])
        .values_list("customer_id", flat=True)
    )
    won_ends = won_until(c.pk for c in customers if c.stage == CustomerStage.WON)
    leaves = leave_pauses(c.owner_id for c in customers)
    preview = PolicyPreview(days=days, now=now)
    current = recycle_rules(pool)
    if current is not None:
        preview.current_rules_count = len(
            _due_within(current, customers, open_deals, horizon, won_ends, leaves)
        )
    by_owner: dict[str, int] = defaultdict(int)
    by_day: dict[str, int] = defaultdict(int)
    for customer, plan in _due_within(
        proposed_rules(pool, changes), customers, open_deals, horizon, won_ends, leaves
    ):
        owner = customer.owner.label if customer.owner else ""
        due_day = timezone.localtime(max(plan.due_at, now)).date().isoformat()
        by_owner[owner] += 1
        by_day[due_day] += 1
        preview.customers.append(
            {
                "customer": customer.pk,
                "customer_name": customer.name,
                "owner": customer.owner_id,
                "owner_name": owner,
                "due_at": plan.due_at,
                "rule": plan.rule,
                "reason": _(REASONS[plan.rule]) % {"limit": plan.limit},
            }
        )
    preview.customers.sort(key=lambda row: (row["due_at"], row["customer"]))
    preview.by_owner, preview.by_day = dict(by_owner), dict(sorted(by_day.items()))
    return preview
