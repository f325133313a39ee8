"""The recycle sweep (SPEC §6): O(customers due), bounded batches, preview by the same path.

One sweep at ``now``:
1. unfreezes customers whose freeze ended (a preview treats them as unfrozen), ``batch_size``
   per transaction, each batch read ``FOR UPDATE SKIP LOCKED`` with ``status = 'frozen' AND
   frozen_until <= now`` in WHERE, each through the ownership service (its compare-and-set
   and its ``unfrozen`` ledger row, actor ``system:freeze_ended``); one that a person ended
   meanwhile counts as done, not as an error;
2. walks ``status = 'owned' AND recycle_due_at <= now`` on its index, in keyset order
   ``(recycle_due_at, id)``, ``batch_size`` rows per transaction. On PostgreSQL the batch is
   read ``FOR UPDATE SKIP LOCKED`` with the due predicate in WHERE, so several workers share
   the work and a customer being followed up right now is left for the next run; on SQLite
   the write transaction serializes writers;
3. asks the engine, per customer and with today's policy, whether it is really due (a stale
   precomputed time is corrected, not acted on) and where it goes;
4. applies a batch with one compare-and-set UPDATE per destination (``… AND status = 'owned'
   AND recycle_due_at <= now``), checks the row count, and appends the ``recycled`` ledger rows
   (actor ``system:<rule>``); owners, and the admins of a reassign queue that
   received customers, are told once per batch, in the batch's transaction (a notification
   exists if and only if the batch committed; e-mail and webhook leave later, by the outbox);
5. warns owners whose ``warn_at`` has passed, once per due cycle, and clears ``warn_at``, in
   locked batches like step 1, so concurrent workers warn disjoint customers. A customer
   whose schedule a change of its pool's policy has not yet recomputed is left for a later
   run (``recompute.not_yet_recomputed``): its ``warn_at`` is the previous policy's.
A killed sweep loses at most its open batch, which rolls back; the next run picks it up.
With ``dry_run`` steps 1–5 decide exactly the same but nothing is written.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.engine.recycle import CustomerClock, Pauses, RecycleRules, Schedule, schedule
from highseas.notify.services import notify, notify_many
from highseas.notify.texts import FOLLOW_UP_BEFORE, RECYCLED, WILL_RECYCLE, SystemText
from highseas.pools import reasons
from highseas.pools.destinations import destination_pool_id, queue_name, tell_queue_admins
from highseas.pools.ledger import Entry, record_events
from highseas.pools.models import Pool
from highseas.pools.ownership import unfreeze
from highseas.pools.policies import recycle_rules
from highseas.pools.reasons import Reason
from highseas.pools.recompute import not_yet_recomputed
from highseas.pools.rows import columns, db_time
from highseas.pools.schedule import leave_pauses, won_until
from highseas.pools.set_update import update_rows
from highseas.pools.sweep_rows import DueRow, read_rows

REASONS = reasons.RECYCLE_TEMPLATES  # by recycle rule, as the ledger's codes name them


@dataclass(frozen=True)
class Recycled:
    customer: int
    customer_name: str
    from_owner: int
    from_owner_name: str
    from_pool: int | None
    to_pool: int | None
    to_pool_name: str
    rule: str
    due_at: datetime
    reason: str
    limit: int | None = None  # the rule's limit, for the ledger's reason


@dataclass(frozen=True)
class Warned:
    customer: int
    customer_name: str
    owner: int
    owner_name: str
    due_at: datetime


@dataclass
class SweepReport:
    now: datetime
    dry_run: bool
    recycled: list[Recycled] = field(default_factory=list)
    warned: list[Warned] = field(default_factory=list)
    unfrozen: list[int] = field(default_factory=list)
    corrected: int = 0
    batches: int = 0
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        by_owner: dict[str, int] = defaultdict(int)
        by_pool: dict[str, int] = defaultdict(int)
        for item in self.recycled:
            by_owner[item.from_owner_name] += 1
            by_pool[item.to_pool_name] += 1
        return {
            **asdict(self),
            "summary": {
                "recycled": len(self.recycled),
                "warned": len(self.warned),
                "by_owner": dict(by_owner),
                "by_pool": dict(by_pool),
            },
        }


@dataclass(frozen=True)
class Scope:
    """Restrict a preview (or a sweep) to one pool and/or one owner, and to the customers of
    ``owner_ids`` (a manager's team subtree; ``None`` is everyone's)."""

    pool_id: int | None = None
    owner_id: int | None = None
    owner_ids: frozenset[int] | None = None

    def apply(self, customers: QuerySet[Customer]) -> QuerySet[Customer]:
        if self.pool_id is not None:
            customers = customers.filter(pool_id=self.pool_id)
        if self.owner_id is not None:
            customers = customers.filter(owner_id=self.owner_id)
        if self.owner_ids is not None:
            customers = customers.filter(owner_id__in=sorted(self.owner_ids))
        return customers


class PoolCache:
    """Pools with their policies, recycle rules and destinations, owners' labels and the
    rules' reasons, worked out once per sweep (a sweep's thousands of customers share a few
    pools)."""

    def __init__(self, *, create_queues: bool) -> None:
        self._pools: dict[int, Pool] = {}
        self._create_queues = create_queues
        self._owners: dict[int, str] = {}
        self._rules: dict[int, RecycleRules | None] = {}
        self._destinations: dict[int, tuple[int | None, str]] = {}
        self._reasons: dict[tuple[str, int | None], str] = {}

    def owner_labels(self, owner_ids: set[int]) -> dict[int, str]:
        """The owners' display labels (``User.label``), read once per sweep."""
        missing = owner_ids - self._owners.keys()
        if missing:
            for pk, display_name, username in User.objects.filter(pk__in=missing).values_list(
                "pk", "display_name", "username"
            ):
                self._owners[pk] = display_name or username
        return self._owners

    def get(self, pool_id: int) -> Pool:
        if pool_id not in self._pools:
            self._pools[pool_id] = Pool.objects.select_related("recycle_policy").get(pk=pool_id)
        return self._pools[pool_id]

    def rules(self, pool_id: int) -> RecycleRules | None:
        if pool_id not in self._rules:
            self._rules[pool_id] = recycle_rules(self.get(pool_id))
        return self._rules[pool_id]

    def destination(self, pool_id: int) -> tuple[int | None, str]:
        """Where the pool's customers go when recycled: the pool's id and name (``None`` and
        the queue's name for a reassign queue a preview would create)."""
        if pool_id not in self._destinations:
            pool = self.get(pool_id)
            policy = getattr(pool, "recycle_policy", None)
            target = destination_pool_id(pool, policy, create=self._create_queues)
            self._destinations[pool_id] = (
                (None, queue_name(pool)) if target is None else (target, self.get(target).name)
            )
        return self._destinations[pool_id]

    def reason(self, plan: Schedule) -> str:
        key = (plan.rule, plan.limit)
        if key not in self._reasons:
            self._reasons[key] = _(REASONS[plan.rule]) % {"limit": plan.limit}
        return self._reasons[key]


def _open_deals(customer_ids: list[int]) -> set[int]:
    """The customers of ``customer_ids`` with a deal neither won nor lost: one statement on the
    deals' customer index, its ids bound as plain parameters (the ORM resolves each value of
    an ``__in`` list as an expression, about 18 µs a customer)."""
    if not customer_ids:
        return set()
    table, (customer, stage) = columns(Deal, "customer", "stage")
    marks = ", ".join(["%s"] * len(customer_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT {customer} FROM {table} WHERE {customer} IN ({marks}) "
            f"AND {stage} NOT IN (%s, %s)",
            [*customer_ids, DealStage.WON.value, DealStage.LOST.value],
        )
        return {customer_id for (customer_id,) in cursor.fetchall()}


@dataclass(frozen=True)
class BatchFacts:
    """What a batch's schedules need beyond its rows, read in one query each."""

    open_deals: set[int]
    won_ends: dict[int, datetime]
    leaves: dict[int, Pauses]


def _plan(row: DueRow, pools: PoolCache, facts: BatchFacts) -> Schedule:
    """The engine's schedule for the customer as owned, under today's policy (the clock
    ``schedule.schedule_for`` builds, from the batch's facts read at once)."""
    if row.pool_id is None:
        return Schedule()
    rules = pools.rules(row.pool_id)
    if rules is None:
        return Schedule()
    clock = CustomerClock(
        status=Status.OWNED,
        level=row.level,
        is_won=row.stage == CustomerStage.WON,
        has_open_deal=rules.exempt_open_deal and row.pk in facts.open_deals,
        owned_since=row.owned_since,
        last_effective_activity_at=row.last_effective_activity_at,
        last_activity_at=row.last_activity_at,
        won_until=facts.won_ends.get(row.pk) if rules.won_repurchase_days is not None else None,
        pauses=(
            facts.leaves.get(row.owner_id, ())
            if rules.leave_mode == "pause" and row.owner_id is not None
            else ()
        ),
    )
    return schedule(rules, clock)


def _decide(
    rows: list[DueRow], now: datetime, pools: PoolCache
) -> tuple[list[Recycled], list[tuple[int, Schedule]]]:
    """Split a batch into customers really due and stale rows whose time must be corrected."""
    owner_ids = {row.owner_id for row in rows if row.owner_id is not None}
    facts = BatchFacts(
        open_deals=_open_deals([row.pk for row in rows]),
        won_ends=won_until(row.pk for row in rows if row.stage == CustomerStage.WON),
        leaves=leave_pauses(owner_ids),
    )
    owners = pools.owner_labels(owner_ids)
    due: list[Recycled] = []
    stale: list[tuple[int, Schedule]] = []
    for row in rows:
        plan = _plan(row, pools, facts)
        if not plan.is_due(now):
            stale.append((row.pk, plan))
            continue
        assert row.pool_id is not None and row.owner_id is not None
        to_pool, to_pool_name = pools.destination(row.pool_id)
        due.append(
            Recycled(
                customer=row.pk,
                customer_name=row.name,
                from_owner=row.owner_id,
                from_owner_name=owners[row.owner_id],
                from_pool=row.pool_id,
                to_pool=to_pool,
                to_pool_name=to_pool_name,
                rule=plan.rule,
                due_at=plan.due_at or now,
                reason=pools.reason(plan),
                limit=plan.limit,
            )
        )
    return due, stale


def _due_batches(
    now: datetime, scope: Scope, batch_size: int, lock: bool
) -> Iterator[list[DueRow]]:
    """Due customers in keyset order, one bounded batch at a time (caller holds the
    transaction)."""
    after: tuple[datetime, int] | None = None
    while True:
        due = scope.apply(
            Customer.objects.filter(status=CustomerStatus.OWNED, recycle_due_at__lte=now)
        )
        if after is not None:
            due = due.filter(
                Q(recycle_due_at__gt=after[0]) | Q(recycle_due_at=after[0], pk__gt=after[1])
            )
        due = due.order_by("recycle_due_at", "pk")
        if lock:
            due = due.select_for_update(skip_locked=True, of=("self",))
        batch = read_rows(due[:batch_size])
        if not batch:
            return
        yield batch
        last = batch[-1]
        assert last.recycle_due_at is not None
        after = (last.recycle_due_at, last.pk)


def _recycle_rows(
    items: list[Recycled], from_pool: int | None, to_pool: int | None, now: datetime
) -> int:
    """The compare-and-set of customers leaving ``from_pool`` for ``to_pool``: each row changes
    only while it is still owned by the owner read, in the pool read, and due at ``now``.
    The pool is written only when it changes: setting a column rewrites its index entries
    even to the same value (a recycle back to the same pool would rewrite the pool index of
    every customer it moves)."""
    same: dict[str, Any] = {
        "status": CustomerStatus.POOLED.value,
        "owner": None,
        "owned_since": None,
        "recycle_due_at": None,
        "warn_at": None,
    }
    if to_pool != from_pool:
        same["pool"] = to_pool
    return update_rows(
        Customer,
        ("previous_owner",),
        [(item.customer, item.from_owner, item.from_owner) for item in items],
        match=("owner",),
        same=same,
        guard=[
            ("status", "=", CustomerStatus.OWNED.value),
            ("recycle_due_at", "<=", db_time(now)),
            ("pool", "=", from_pool),
        ],
    )


def _apply(items: list[Recycled], stale: list[tuple[int, Schedule]], now: datetime) -> None:
    """Correct the stale rows' times in one statement, compare-and-set the due ones (one
    statement per source and destination pool), then write their ledger rows in one
    statement."""
    update_rows(
        Customer,
        ("recycle_due_at", "warn_at"),
        [(pk, db_time(plan.due_at), db_time(plan.warn_at)) for pk, plan in stale],
        guard=[("status", "=", CustomerStatus.OWNED.value)],
    )
    moves: dict[tuple[int | None, int | None], list[Recycled]] = defaultdict(list)
    for item in items:
        moves[item.from_pool, item.to_pool].append(item)
    for (from_pool, to_pool), moved in moves.items():
        written = _recycle_rows(moved, from_pool, to_pool, now)
        if written != len(moved):
            raise RuntimeError(f"recycle batch changed {written} of {len(moved)} locked rows")
    record_events(
        [
            Entry(
                item.customer,
                EventKind.RECYCLED,
                OwnershipState(Status.OWNED, item.from_owner, item.from_pool),
                OwnershipState(Status.POOLED, None, item.to_pool),
                reasons.recycled(item.rule, item.limit),
                actor_label=f"system:{item.rule}",
                policy_ref=f"pool:{item.from_pool}/recycle_policy",
            )
            for item in items
        ],
        at=now,
    )


def _tell_owners(items: list[Recycled]) -> None:
    by_owner: dict[int, list[Recycled]] = defaultdict(list)
    for item in items:
        by_owner[item.from_owner].append(item)
    notify_many(
        [
            (
                owner_id,
                "recycled",
                SystemText(RECYCLED, {"count": len(lost)}),
                "、".join(item.customer_name for item in lost[:5]) + ("…" if len(lost) > 5 else ""),
                lost[0].customer if len(lost) == 1 else None,
            )
            for owner_id, lost in by_owner.items()
        ]
    )


def _recycle(report: SweepReport, scope: Scope, batch_size: int) -> None:
    pools = PoolCache(create_queues=not report.dry_run)
    batches = _due_batches(report.now, scope, batch_size, lock=not report.dry_run)
    while True:
        with transaction.atomic():
            batch = next(batches, None)
            if batch is None:
                return
            items, stale = _decide(batch, report.now, pools)
            if not report.dry_run:
                _apply(items, stale, report.now)
                _tell_owners(items)  # in the batch's transaction: told iff it commits
                tell_queue_admins([(item.to_pool, item.customer_name) for item in items])
        report.batches += 1
        report.recycled.extend(items)
        report.corrected += len(stale)


def _preview_expired_freezes(report: SweepReport, scope: Scope) -> None:
    """In a preview, customers whose freeze has ended are judged as the real sweep would
    after unfreezing them."""
    pools = PoolCache(create_queues=False)
    expired = scope.apply(
        Customer.objects.filter(status=CustomerStatus.FROZEN, frozen_until__lte=report.now)
    ).order_by("frozen_until", "pk")
    for row in read_rows(expired):
        assert row.owner_id is not None
        report.unfrozen.append(row.pk)
        items, stale = _decide([row], report.now, pools)
        report.recycled.extend(items)
        for _customer_id, plan in stale:
            if plan.warn_at is not None and plan.due_at and plan.warn_at <= report.now:
                owner = pools.owner_labels({row.owner_id})[row.owner_id]
                report.warned.append(Warned(row.pk, row.name, row.owner_id, owner, plan.due_at))


def _claim_batch(
    candidates: QuerySet[Customer],
    order: str,
    after: tuple[datetime, int] | None,
    batch_size: int,
) -> list[Customer]:
    """The next ``batch_size`` of ``candidates`` in keyset order ``(order, id)`` after ``after``,
    read ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (the caller holds the transaction): a row
    another worker holds is left to it, so concurrent workers take disjoint batches."""
    if after is not None:
        candidates = candidates.filter(
            Q(**{f"{order}__gt": after[0]}) | Q(**{order: after[0], "pk__gt": after[1]})
        )
    candidates = candidates.order_by(order, "pk").select_for_update(skip_locked=True, of=("self",))
    return list(candidates[:batch_size])


def _keyset(customer: Customer, order: str) -> tuple[datetime, int]:
    moment = getattr(customer, order)
    assert moment is not None
    return moment, customer.pk


def _end_freeze(customer_id: int, now: datetime) -> bool:
    """Unfreeze one customer whose freeze ended; False when it was no longer frozen (a person
    or another worker ended it meanwhile): that freeze is over, which is what we wanted."""
    try:
        unfreeze(
            None,
            customer_id,
            now=now,
            actor_label="system:freeze_ended",
            reason=Reason(reasons.FREEZE_ENDED),
        )
    except HighSeasError as refusal:
        if refusal.code in {ErrorCode.STATE_CONFLICT, ErrorCode.ALREADY_OWNED, ErrorCode.NOT_FOUND}:
            return False
        raise
    return True


def _unfreeze_expired(report: SweepReport, scope: Scope, batch_size: int) -> None:
    """Step 1, ``batch_size`` customers per transaction, each batch claimed with the predicate
    ``status = 'frozen' AND frozen_until <= now`` in WHERE; each ended freeze gets its one
    ``unfrozen`` ledger row from the ownership service, whichever worker ends it."""
    ending = scope.apply(
        Customer.objects.filter(status=CustomerStatus.FROZEN, frozen_until__lte=report.now)
    )
    after: tuple[datetime, int] | None = None
    while True:
        with transaction.atomic():
            batch = _claim_batch(ending, "frozen_until", after, batch_size)
            ended = [c.pk for c in batch if _end_freeze(c.pk, report.now)]
        if not batch:
            return
        report.unfrozen.extend(ended)
        after = _keyset(batch[-1], "frozen_until")


def _warned(customer: Customer) -> Warned:
    assert customer.owner is not None and customer.recycle_due_at is not None
    return Warned(
        customer.pk, customer.name, customer.owner.pk, customer.owner.label, customer.recycle_due_at
    )


def _tell_warned(items: list[Warned]) -> None:
    for item in items:
        notify(
            item.owner,
            "recycle_warning",
            SystemText(WILL_RECYCLE, {"customer": item.customer_name}),
            SystemText(
                FOLLOW_UP_BEFORE,
                {"due": timezone.localtime(item.due_at).strftime("%Y-%m-%d %H:%M")},
            ),
            customer_id=item.customer,
            dedupe_key=f"recycle_warning:{item.customer}:{item.due_at.isoformat()}",
        )


def _warn(report: SweepReport, scope: Scope, batch_size: int) -> None:
    """Step 5. A real sweep claims ``batch_size`` warnable customers per transaction (as step 1
    does), tells their owners and clears ``warn_at`` in that transaction, so concurrent workers
    warn disjoint customers; the notification's dedupe key keeps it to once per due cycle
    whatever happens."""
    warnable = scope.apply(
        Customer.objects.filter(
            status=CustomerStatus.OWNED,
            warn_at__lte=report.now,
            recycle_due_at__gt=report.now,
        )
    ).select_related("owner")
    # not the customers a recompute has not reached: their warning is the previous policy's
    if report.dry_run:
        current = warnable.exclude(not_yet_recomputed()).order_by("warn_at", "pk")
        for customer in current.iterator(chunk_size=batch_size):
            report.warned.append(_warned(customer))
        return
    after: tuple[datetime, int] | None = None
    while True:
        with transaction.atomic():
            current = warnable.exclude(not_yet_recomputed())  # a save may have begun one
            batch = _claim_batch(current, "warn_at", after, batch_size)
            items = [_warned(customer) for customer in batch]
            _tell_warned(items)
            Customer.objects.filter(
                pk__in=[item.customer for item in items], warn_at__lte=report.now
            ).update(warn_at=None)
        if not batch:
            return
        report.warned.extend(items)
        after = _keyset(batch[-1], "warn_at")


def sweep(
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = 500,
    scope: Scope | None = None,
) -> SweepReport:
    """Run (or, with ``dry_run``, preview) one sweep at ``now``."""
    started = time.perf_counter()
    report = SweepReport(now=now or timezone.now(), dry_run=dry_run)
    scope = scope or Scope()
    if dry_run:
        _preview_expired_freezes(report, scope)
    else:
        _unfreeze_expired(report, scope, batch_size)
    _recycle(report, scope, batch_size)
    _warn(report, scope, batch_size)
    report.elapsed_ms = (time.perf_counter() - started) * 1000
    return report
