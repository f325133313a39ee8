"""``highseas check``, schedules: every stored ``recycle_due_at`` / ``warn_at`` equals what the
engine computes now (``engine.recycle.schedule``, the function every writer applies).

Streamed in keyset chunks of ``CHUNK`` customers, so it runs at a million customers in bounded
memory with a number of queries that depends on the chunk count, never on the customers:

1. the pools' recycle rules are read once;
2. each chunk is one query for the customers' clock columns, one for those of them with
   an open deal (a deal neither won nor lost) over the chunk's id range, one for the
   won ones' repurchase anchors (``schedule.won_until``) and one for their owners' recorded
   leaves (``schedule.leave_pauses``: the clocks a pool pauses during a leave);
3. each customer's clock goes through the engine; a stored value that differs is reported as
   ``schedule_mismatch`` with both values. A customer that is not owned (pooled, frozen,
   merged away) must have no schedule. A ``warn_at`` the sweep cleared after warning (its
   time has passed) matches;
4. an owned customer that a recompute in progress (``pools.recompute``: a change of its
   pool's recycle policy, applied in batches) has not reached yet is not compared: its
   schedule is the previous policy's until the walk, or the next periodic run after a killed
   one, reaches it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import Q

from highseas.customers.choices import CustomerStage, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.ownership import Status
from highseas.engine.recycle import CustomerClock, Pauses, RecycleRules, Schedule, schedule
from highseas.pools.models import Pool, ScheduleRecompute
from highseas.pools.policies import recycle_rules
from highseas.pools.schedule import leave_pauses, won_until

CHUNK = 5_000
COLUMNS = (
    "id",
    "status",
    "pool_id",
    "level",
    "stage",
    "owned_since",
    "last_effective_activity_at",
    "last_activity_at",
    "recycle_due_at",
    "warn_at",
    "owner_id",
)

Report = Callable[[str, str], None]


def _rules_by_pool() -> dict[int, RecycleRules | None]:
    return {pool.pk: recycle_rules(pool) for pool in Pool.objects.select_related("recycle_policy")}


def _chunks() -> Iterator[list[dict[str, Any]]]:
    after = 0
    while True:
        rows = list(Customer.objects.filter(pk__gt=after).order_by("id").values(*COLUMNS)[:CHUNK])
        if not rows:
            return
        yield rows
        after = rows[-1]["id"]


def _with_open_deal(first: int, last: int) -> set[int]:
    return set(
        Deal.objects.filter(customer_id__gte=first, customer_id__lte=last)
        .filter(~Q(stage__in=[DealStage.WON, DealStage.LOST]))
        .values_list("customer_id", flat=True)
        .distinct()
    )


def expected_schedule(
    row: dict[str, Any],
    rules: RecycleRules | None,
    has_open_deal: bool,
    won_ends: dict[int, datetime] | None = None,
    pauses: Pauses = (),
) -> Schedule:
    if row["status"] not in Status._value2member_map_:
        return Schedule()
    clock = CustomerClock(
        status=Status(row["status"]),
        level=row["level"],
        is_won=row["stage"] == CustomerStage.WON,
        has_open_deal=has_open_deal,
        owned_since=row["owned_since"],
        last_effective_activity_at=row["last_effective_activity_at"],
        last_activity_at=row["last_activity_at"],
        won_until=(won_ends or {}).get(row["id"]),
        pauses=pauses,
    )
    return schedule(rules, clock)


def _shown(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "none"


def _warn_matches(stored: datetime | None, expected: datetime | None, now: datetime) -> bool:
    """The sweep clears ``warn_at`` once it has warned, so a cleared warning whose time has
    passed is the engine's value too."""
    return stored == expected or (stored is None and expected is not None and expected <= now)


def check_schedules(report: Report, now: datetime) -> int:
    """Report each customer whose stored schedule differs from the engine's at ``now``;
    returns how many customers were compared."""
    rules = _rules_by_pool()
    pending = dict(ScheduleRecompute.objects.values_list("pool_id", "done_to"))
    compared = 0
    for rows in _chunks():
        open_deals = _with_open_deal(rows[0]["id"], rows[-1]["id"])
        won_ends = won_until(row["id"] for row in rows if row["stage"] == CustomerStage.WON)
        leaves = leave_pauses(row["owner_id"] for row in rows if row["status"] == "owned")
        for row in rows:
            if row["status"] == "owned" and row["id"] > pending.get(row["pool_id"], row["id"]):
                continue  # rule 4
            compared += 1
            pool_rules = rules.get(row["pool_id"]) if row["pool_id"] is not None else None
            pauses = leaves.get(row["owner_id"], ())
            plan = expected_schedule(row, pool_rules, row["id"] in open_deals, won_ends, pauses)
            stored = (row["recycle_due_at"], row["warn_at"])
            if stored[0] != plan.due_at or not _warn_matches(stored[1], plan.warn_at, now):
                report(
                    "schedule_mismatch",
                    f"customer {row['id']}: stored due {_shown(stored[0])} warn "
                    f"{_shown(stored[1])}, the policy gives due {_shown(plan.due_at)} "
                    f"warn {_shown(plan.warn_at)}",
                )
    return compared
