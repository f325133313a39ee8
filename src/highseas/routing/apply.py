"""Applying a planned batch: through the ownership service one customer at a time, or set-based.

Both run inside the batch's transaction, after the run has locked the pointers, the reps and
the batch's customers, and both leave the same customer and ledger rows behind (only the
notifications differ: one per customer, or one per receiver and batch):

- ``through_service`` calls ``ownership.assign`` per customer (its own savepoint), so every
  rule the service checks is checked again; a refusal turns the decision into "left in the
  pool" with the refusal's code;
- ``in_bulk`` writes one compare-and-set ``UPDATE … WHERE id IN (…) AND status = 'pooled'
  AND owner_id IS NULL AND pool_id = ?`` per pool, owner and schedule, checks that every row
  changed (the rows are locked, so anything else is a defect and rolls the batch back),
  inserts the ``assigned`` ledger rows in bulk, and tells each receiver once after commit.
  Caps and quotas hold because the plan was made from loads read under the reps' locks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.errors import HighSeasError
from highseas.engine.ownership import EventKind, Status
from highseas.engine.planner import Decision, Outcome
from highseas.engine.recycle import CustomerClock, Schedule, schedule
from highseas.notify.services import notify_after_commit
from highseas.pools import ownership
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.policies import recycle_rules
from highseas.routing.bulk import columns, db_datetime, db_time, insert_rows

CHUNK = 500
LEDGER_FIELDS = (
    *("customer", "kind", "from_status", "from_pool", "to_status", "to_owner", "to_pool"),
    *("actor", "actor_label", "reason", "policy_ref", "at"),
)


def actor_label(rule_id: int | None) -> str:
    return f"system:rule:{rule_id}"


def ledger_reason(rule_name: str, run_id: int) -> str:
    return _("Assigned by rule «%(rule)s» (run #%(run)s)") % {"rule": rule_name, "run": run_id}


def refuse(decision: Decision, refusal: HighSeasError) -> None:
    """The service refused what the plan decided: the customer stays pooled, and says why."""
    decision.outcome = Outcome.UNASSIGNED
    decision.reason = refusal.code.value
    decision.owner_id = None
    decision.explanation.update(
        outcome=Outcome.UNASSIGNED.value,
        reason=refusal.code.value,
        owner=None,
        refused={"code": refusal.code.value, **refusal.facts},
    )


def through_service(
    decisions: Sequence[Decision],
    *,
    authority: User,
    rule_names: dict[int, str],
    run_id: int,
    now: datetime,
) -> None:
    assigned = [d for d in decisions if d.outcome is Outcome.ASSIGNED]
    receivers = User.objects.in_bulk([d.owner_id for d in assigned if d.owner_id])
    for decision in assigned:
        assert decision.owner_id is not None and decision.rule_id is not None
        try:
            ownership.assign(
                authority,
                decision.customer_id,
                receivers[decision.owner_id],
                reason=ledger_reason(rule_names[decision.rule_id], run_id),
                now=now,
                actor_label=actor_label(decision.rule_id),
            )
        except HighSeasError as refusal:
            refuse(decision, refusal)


def _open_deals(customer_ids: list[int]) -> set[int]:
    return set(
        Deal.objects.filter(customer_id__in=customer_ids)
        .exclude(stage__in=[DealStage.WON, DealStage.LOST])
        .values_list("customer_id", flat=True)
    )


def _schedules(
    decisions: list[Decision],
    rows: dict[int, dict[str, Any]],
    pools: dict[int, Pool],
    now: datetime,
) -> dict[int, Schedule]:
    """Each customer's recycle schedule as owned from ``now``, as ``ownership.move`` sets it."""
    rules = {pool_id: recycle_rules(pool) for pool_id, pool in pools.items()}
    needs_deals = any(r is not None and r.exempt_open_deal for r in rules.values())
    open_deals = _open_deals([d.customer_id for d in decisions]) if needs_deals else set()
    found: dict[int, Schedule] = {}
    alike: dict[tuple[Any, ...], Schedule] = {}  # most of a backlog shares a handful of clocks
    for decision in decisions:
        row = rows[decision.customer_id]
        key = (
            *(row["pool_id"], row["level"], row["is_won"], decision.customer_id in open_deals),
            *(row["last_effective_activity_at"], row["last_activity_at"]),
        )
        if key not in alike:
            clock = CustomerClock(Status.OWNED, *key[1:4], now, *key[4:])
            alike[key] = schedule(rules.get(row["pool_id"]), clock)
        found[decision.customer_id] = alike[key]
    return found


def _cas_sql(size: int) -> str:
    """Compare-and-set ``size`` pooled customers of a pool to one owner and schedule."""
    table, (status, owner, since, due, warn, pk, pool) = columns(
        Customer, "status", "owner", "owned_since", "recycle_due_at", "warn_at", "id", "pool"
    )
    marks = ", ".join(["%s"] * size)
    return (
        f"UPDATE {table} SET {status} = %s, {owner} = %s, {since} = %s, {due} = %s, "
        f"{warn} = %s WHERE {pk} IN ({marks}) AND {status} = %s AND {owner} IS NULL "
        f"AND {pool} = %s"
    )


def _write_owners(decisions: list[Decision], plans: dict[int, Schedule], now: datetime) -> None:
    """One compare-and-set UPDATE per pool, owner and schedule (in chunks); every row must
    change, since the batch holds their locks."""
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for d in decisions:
        plan = plans[d.customer_id]
        groups[(d.pool_id, d.owner_id, plan.due_at, plan.warn_at)].append(d.customer_id)
    owned, pooled = CustomerStatus.OWNED.value, CustomerStatus.POOLED.value
    with connection.cursor() as cursor:
        for (pool_id, owner_id, due_at, warn_at), ids in groups.items():
            times = [db_datetime(now), db_time(due_at), db_time(warn_at)]
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                cursor.execute(
                    _cas_sql(len(chunk)), [owned, owner_id, *times, *chunk, pooled, pool_id]
                )
                if cursor.rowcount != len(chunk):
                    raise RuntimeError(
                        f"assignment batch changed {cursor.rowcount} of {len(chunk)} locked rows"
                    )


def _tell_receivers(decisions: list[Decision], names: dict[int, str]) -> None:
    by_owner: dict[int, list[Decision]] = defaultdict(list)
    for decision in decisions:
        assert decision.owner_id is not None
        by_owner[decision.owner_id].append(decision)
    for owner_id, given in by_owner.items():
        if len(given) == 1:
            title, customer_id = _("A customer was given to you"), given[0].customer_id
        else:
            title = _("%(count)s customers were given to you") % {"count": len(given)}
            customer_id = None
        listed = "、".join(names.get(d.customer_id, "") for d in given[:5])
        body = listed + ("…" if len(given) > 5 else "")
        notify_after_commit(owner_id, EventKind.ASSIGNED.value, title, body, customer_id)


def in_bulk(
    decisions: Sequence[Decision],
    *,
    rows: dict[int, dict[str, Any]],
    pools: dict[int, Pool],
    authority: User,
    rule_names: dict[int, str],
    run_id: int,
    now: datetime,
) -> None:
    """Set-based apply of the batch's assigned decisions (see the module's rules)."""
    assigned = [d for d in decisions if d.outcome is Outcome.ASSIGNED]
    if not assigned:
        return
    _write_owners(assigned, _schedules(assigned, rows, pools, now), now)
    reasons = {rule_id: ledger_reason(name, run_id) for rule_id, name in rule_names.items()}
    at, kind = db_datetime(now), EventKind.ASSIGNED.value
    pooled, owned = Status.POOLED.value, Status.OWNED.value
    labels = {rule_id: actor_label(rule_id) for rule_id in rule_names}
    insert_rows(
        OwnershipEvent,
        LEDGER_FIELDS,
        [
            (
                *(d.customer_id, kind, pooled, d.pool_id, owned, d.owner_id, d.pool_id),
                *(authority.pk, labels[d.rule_id or 0], reasons[d.rule_id or 0], "", at),
            )
            for d in assigned
        ],
    )
    _tell_receivers(assigned, {cid: row["name"] for cid, row in rows.items()})
