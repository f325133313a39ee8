"""Running the assignment rules: on demand, and for customers just created or imported.

``run_assignment`` is the one way in for every trigger — the API, ``highseas assign``, a new
customer (``intake.creation.create_customer``) and imports (``assign_new_customers``) — so a
preview, a backlog run and the routing of one new customer decide by the same code.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.pools.bulk_assign import Unwritten
from highseas.pools.models import Pool
from highseas.routing.models import AssignmentDecision, AssignmentRule, AssignmentRun
from highseas.routing.runs import (
    DEFAULT_BATCH,
    Carried,
    Progress,
    Runner,
    RunOptions,
    RunResult,
)

Trigger = AssignmentRun.Trigger


def new_seed() -> int:
    return random.SystemRandom().randrange(2**31)


def run_assignment(
    actor: User | None,
    *,
    pool: Pool | None = None,
    dry_run: bool,
    now: datetime | None = None,
    seed: int | None = None,
    customer_ids: Sequence[int] | None = None,
    trigger: str = Trigger.MANUAL,
    batch_size: int = DEFAULT_BATCH,
    apply_mode: str | None = None,
    progress: Progress | None = None,
    excluded_reps: frozenset[int] = frozenset(),
    rows: Mapping[int, Mapping[str, Any]] | None = None,
    carried: Carried | None = None,
    unwritten: Unwritten | None = None,
) -> RunResult:
    """Route the pooled backlog of ``pool`` (or of every pool; or only ``customer_ids``)
    through the active rules, and log the run. With ``dry_run`` nothing but the run's log row
    is written, and the decisions are exactly those a real run with the same ``seed`` and
    data makes. Every decision is applied by ``pools.bulk_assign.assign_many``, the rule
    acting as itself: small runs (create, a short import) one decision at a time, locking
    only the rep each customer goes to; larger ones set-based per batch, under the locks of
    every rep the rules reach — unless ``apply_mode`` names the path. ``rows``, ``carried``
    and ``unwritten``: see ``assign_new_customers``."""
    options = RunOptions(
        dry_run=dry_run,
        now=now or timezone.now(),
        seed=new_seed() if seed is None else seed,
        trigger=trigger,
        pool=pool,
        customer_ids=list(customer_ids) if customer_ids is not None else None,
        batch_size=batch_size,
        apply_mode=apply_mode,
        progress=progress,
        excluded_reps=excluded_reps,
        rows=rows,
        unwritten=unwritten,
    )
    return Runner(actor, options, carried).execute()


def rules_apply_to(
    customer_ids: Sequence[int], rows: Mapping[int, Mapping[str, Any]] | None = None
) -> bool:
    """Whether an active rule could take any of these pooled customers (``rows``: those the
    caller has just written pooled, whose pools need no reading)."""
    rows = rows or {}
    pools = {rows[pk]["pool_id"] for pk in customer_ids if pk in rows}
    unread = [pk for pk in customer_ids if pk not in rows]
    if unread:
        pools.update(
            Customer.objects.filter(pk__in=unread, status=CustomerStatus.POOLED)
            .values_list("pool_id", flat=True)
            .distinct()
        )
    if not pools:
        return False
    rules = AssignmentRule.objects.filter(is_active=True)
    return rules.filter(Q(pool__isnull=True) | Q(pool_id__in=pools)).exists()


def assign_new_customers(
    actor: User | None,
    customer_ids: Sequence[int],
    *,
    trigger: str = Trigger.IMPORT,
    now: datetime | None = None,
    seed: int | None = None,
    excluded_reps: frozenset[int] = frozenset(),
    rows: Mapping[int, Mapping[str, Any]] | None = None,
    carried: Carried | None = None,
    unwritten: Unwritten | None = None,
) -> RunResult | None:
    """Route customers just created or imported, right away (near real time): a real run over
    exactly these customers. ``None`` — and no run logged — when no active rule applies to
    their pools. Call it inside the transaction that created them, so that a customer is
    never seen pooled by others before the rules had their say.

    ``rows``: the customers as the caller wrote them pooled in this transaction
    (``snapshots.customer_row``), planned from there instead of read again; ``carried``: what
    an import's earlier batches' runs read (``runs.Carried``), for the next one to take over;
    ``unwritten``: those of ``rows`` not inserted yet (``bulk_assign.Unwritten``), which the
    run sets owned in memory and the caller inserts after the call, routed or not (``None``);
    only for more customers than ``runs.SERVICE_PATH_MAX``, which are granted set-based."""
    if not customer_ids or not rules_apply_to(customer_ids, rows):
        return None
    return run_assignment(
        actor,
        dry_run=False,
        now=now,
        seed=seed,
        customer_ids=customer_ids,
        trigger=trigger,
        excluded_reps=excluded_reps,
        rows=rows,
        carried=carried,
        unwritten=unwritten,
    )


def latest_decision(customer_id: int) -> AssignmentDecision | None:
    """The last decision a real run made about a customer."""
    return (
        AssignmentDecision.objects.filter(customer_id=customer_id)
        .select_related("run", "rule", "owner")
        .order_by("-id")
        .first()
    )
