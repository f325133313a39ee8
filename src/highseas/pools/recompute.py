"""Recomputing every owned customer's recycle schedule when a pool's recycle policy changes.

The engine's ``schedule`` (``highseas.engine.recycle``) is the contract: afterwards each owned
customer of the pool has exactly the ``recycle_due_at`` / ``warn_at`` that ``schedule_for``
computes for it.

The work goes in batches of the pool's owned customers in id order, one transaction each,
paced like an assignment run (``config.pacing``): in one transaction, a change over 200,000
owned customers held SQLite's only write lock for 10 s, and every claim waited for it.

- ``start_recompute`` marks the pool (a ``ScheduleRecompute`` row at 0) in the transaction
  that saves the policy; ``walk`` then walks the batches after it, each moving the mark to
  its last customer id, and deletes the mark with the last one; one walker a pool at a time,
  under a lease. A recompute killed between two batches (or whose walk failed) is finished by
  the next periodic run (``finish_pending_recomputes``); a second change of the policy
  meanwhile starts the walk again from the first customer.
- Until the walk passes a customer it keeps the schedule of the previous policy. The sweep
  re-checks a due time against today's policy before it recycles, so an early one is
  corrected, not acted on; a late one waits for the walk, seconds. The sweep's warnings skip
  the customers the walk has not reached (``not_yet_recomputed``, read again each batch),
  and ``highseas check`` does not count them as mismatches.
- A claim, a follow-up or any other writer of one schedule computes it from the saved policy,
  so a batch reaching a customer it changed meanwhile writes what that writer wrote.

Each batch is set-based, a few UPDATEs whose number depends on the policy, never on the number
of customers:

1. every owned customer of the batch becomes unscheduled (NULL, NULL). On PostgreSQL the
   batch first locks those rows in id order until its commit, so no transition can change
   them between this statement and the next ones. Pooled and frozen customers, and other
   pools' customers, are not touched;
2. without a recycle policy (or without owned customers) nothing more is done; the policy is
   read from the database, not from ``pool``'s cached ``recycle_policy``, which may be stale;
3. the customers are grouped by level: one group per level with a non-empty override (using
   ``RecycleRules.for_level``), one group for the remaining levels with the pool's own limits
   (skipped when no level remains). Customers of an exempt level are in no group;
4. in each group, the other exempt customers are left out: won ones when ``exempt_won``, those
   with an open deal (a deal neither won nor lost) when ``exempt_open_deal``;
5. the rest are split by whether they are won (only when the no-deal limit applies to won
   customers at all) and whether there has been any activity since ``owned_since`` (only when
   there is a first-contact limit). Each part gets one UPDATE with the earliest of the candidate
   due times that apply to it; a part without candidates stays unscheduled. The split keeps
   every argument of ``Least`` / ``Greatest`` non-NULL: on SQLite they return NULL as soon as
   one argument is NULL, on PostgreSQL they ignore NULLs;
6. ``warn_at`` is ``due - warn_days`` when ``warn_days`` is set, else NULL; where that is not
   after ``owned_since`` (a due time closer than the warning window at the claim), the
   engine's ``warning_time`` afterwards, for the whole pool in one read and one bulk write;
7. with a repurchase window (``won_repurchase_days``), won customers with a won deal get the
   candidate ``max(owned_since, latest won deal end) + days`` (the end from a subquery over
   their won deals, ``schedule.WON_DEAL_END``): alone when ``exempt_won`` (one more UPDATE),
   otherwise next to their other candidates (the won part is split by whether a won deal
   exists, keeping the subquery non-NULL);
8. with ``leave_mode: pause``, the customers of reps with a recorded leave are then
   recomputed one by one through the engine (``pools.leave.reschedule_on_leave``): their
   clocks stand still during the leave, which the set-based UPDATEs do not model. Their number
   is bounded by those reps' holdings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import (
    DateTimeField,
    Exists,
    Expression,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import Combinable, ExpressionWrapper
from django.db.models.functions import Coalesce, Greatest, Least

from highseas.config.pacing import Pacer
from highseas.customers.choices import CustomerLevel, CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.recycle import RecycleRules, late_warning_time
from highseas.pools import leases
from highseas.pools.leave import reschedule_on_leave
from highseas.pools.models import LeaveMode, Pool, ScheduleRecompute
from highseas.pools.policies import recycle_rules
from highseas.pools.schedule import WON_DEAL_END

log = logging.getLogger("highseas.recompute")

WON = Q(stage=CustomerStage.WON)
CONTACTED = Q(last_activity_at__gte=F("owned_since"))
NOT_CONTACTED = Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=F("owned_since"))
EVERYONE = Q()


BATCH_SIZE = 5_000  # customers a batch at most; the pacer starts smaller (``config.pacing``)


def recompute_pool_schedules(pool: Pool, *, batch_size: int | None = None) -> int:
    """Bring the schedules of the pool's owned customers in line with its recycle policy, in
    batches; returns how many owned customers were recomputed."""
    start_recompute(pool.pk)
    return finish_recompute(pool.pk, batch_size=batch_size)


def walk(pool_id: int) -> int:
    """Finish the pool's recompute unless another walker is at it (one at a time, under a
    lease per pool; a dead walker's lease is taken over); returns how many customers this
    walker recomputed. A holder looks for a mark again after giving the lease up, so a
    change saved while it held the lease (whose saver found it held) is walked all the same."""
    count = 0
    while True:
        with leases.held(f"recompute:{pool_id}", leases.clock(), from_the_dead=True) as taken:
            if not taken:
                return count
            count += finish_recompute(pool_id)
        if not ScheduleRecompute.objects.filter(pool_id=pool_id).exists():
            return count


def start_recompute(pool_id: int) -> None:
    """Mark the pool's schedules as to be recomputed from its first customer on (again, if a
    walk is under way); in the transaction that saves its recycle policy."""
    ScheduleRecompute.objects.bulk_create(
        [ScheduleRecompute(pool_id=pool_id, done_to=0)],
        update_conflicts=True,
        unique_fields=["pool"],
        update_fields=["done_to"],
    )


def finish_recompute(pool_id: int, *, batch_size: int | None = None) -> int:
    """Walk the marked pool's owned customers from its mark on, a paced batch a transaction
    (at most ``batch_size``, by default ``BATCH_SIZE``), until none is left, then clear the
    mark; returns how many were recomputed (0 when the pool is not marked). Two walkers of
    one pool would take its batches one after the other (``walk`` keeps it to one)."""
    pacer = Pacer(batch_size or BATCH_SIZE)
    count = 0
    while True:
        size = pacer.size()
        with transaction.atomic():
            mark = ScheduleRecompute.objects.filter(pool_id=pool_id)
            if connection.features.has_select_for_update:
                mark = mark.select_for_update()
            done_to = mark.values_list("done_to", flat=True).first()
            if done_to is None:
                return count
            owned = Customer.objects.filter(pool_id=pool_id, status=CustomerStatus.OWNED)
            last = (
                owned.filter(pk__gt=done_to)
                .order_by("pk")
                .values_list("pk", flat=True)[size - 1 : size]
                .first()
            )
            batch = owned.filter(pk__gt=done_to)
            if last is not None:
                batch = batch.filter(pk__lte=last)
            written = _recompute(pool_id, batch)
            if last is None:
                mark.delete()
            else:
                mark.update(done_to=last)
            pacer.before_commit()
        pacer.wrote(written)
        count += written
        if last is None:
            return count


def finish_pending_recomputes() -> int:
    """Finish every recompute that no walker is at (a killed walker left it, or its saver's
    walk failed): the periodic jobs. Returns how many customers were recomputed; a pool
    whose walk fails is logged and the others still walked, then the first error raised."""
    count, failed = 0, None
    for pool_id in list(
        ScheduleRecompute.objects.order_by("pool_id").values_list("pool_id", flat=True)
    ):
        try:
            count += walk(pool_id)
        except Exception as error:
            log.exception("recomputing the schedules of pool %s failed", pool_id)
            failed = failed or error
    if failed is not None:
        raise failed
    return count


def not_yet_recomputed() -> Q:
    """The customers a recompute in progress has not reached: their schedule is still the
    previous policy's."""
    found = Q(pk__in=[])
    for pool_id, done_to in ScheduleRecompute.objects.values_list("pool_id", "done_to"):
        found |= Q(pool_id=pool_id, pk__gt=done_to)
    return found


def _recompute(pool_id: int, owned: QuerySet[Customer]) -> int:
    """One batch: the owned customers of ``owned`` (one pool's) recomputed set-based."""
    _lock_in_id_order(owned)
    count = owned.update(recycle_due_at=None, warn_at=None)
    if not count:
        return 0
    rules = recycle_rules(Pool.objects.select_related("recycle_policy").get(pk=pool_id))
    if rules is None:
        return count
    for group, group_rules in _level_groups(rules):
        _schedule_group(owned.filter(group), group_rules)
    _late_warnings(owned, rules)
    if rules.leave_mode == LeaveMode.PAUSE:
        reschedule_on_leave(owned)
    return count


def _lock_in_id_order(customers: QuerySet[Customer]) -> None:
    """Lock the rows in id order, as every writer of several customers does, before the
    UPDATEs below lock them in whatever order their plans scan; one row comes back."""
    if not connection.features.has_select_for_update:
        return  # SQLite: the write transaction excludes every other writer
    locking = customers.order_by("pk").select_for_update(of=("self",)).values("pk")
    sql, params = locking.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS locked", params)


def _level_groups(rules: RecycleRules) -> Iterator[tuple[Q, RecycleRules]]:
    overridden = {level for level, override in rules.level_overrides.items() if override}
    plain = set(CustomerLevel.values) - overridden - rules.exempt_levels
    if plain:
        yield Q(level__in=sorted(plain)), rules
    for level in sorted(overridden - rules.exempt_levels):
        yield Q(level=level), rules.for_level(level)


def _schedule_group(customers: QuerySet[Customer], rules: RecycleRules) -> None:
    if rules.exempt_open_deal:
        customers = customers.filter(~Exists(_open_deals()))
    if rules.exempt_won:
        if rules.won_repurchase_days is not None:
            _update(customers.filter(WON, Exists(_won_deals())), [_repurchase(rules)], rules)
        customers = customers.exclude(WON)
    for part, is_won, anchored, contacted in _parts(rules):
        candidates = _candidates(rules, is_won=is_won, contacted=contacted)
        if anchored:
            candidates.append(_repurchase(rules))
        _update(customers.filter(part), candidates, rules)


def _update(
    customers: QuerySet[Customer], candidates: list[Expression], rules: RecycleRules
) -> None:
    if not candidates:
        return
    due = candidates[0] if len(candidates) == 1 else Least(*candidates)
    warn_at = None
    if rules.warn_days is not None:
        warn_at = Greatest(F("owned_since"), _shifted(due, -timedelta(days=rules.warn_days)))
    customers.update(recycle_due_at=due, warn_at=warn_at)


def _late_warnings(owned: QuerySet[Customer], rules: RecycleRules) -> None:
    """Step 6's exception, for the whole pool at once: a warning that fell on ``owned_since``
    (the due time was closer than the warning window at the claim) moves part of the way to
    the due time (``engine.recycle.late_warning_time``), in one read and one bulk write."""
    late = list(
        owned.filter(warn_at=F("owned_since"), recycle_due_at__isnull=False).only(
            "pk", "owned_since", "recycle_due_at", "warn_at"
        )
    )
    for customer in late:
        assert customer.owned_since is not None and customer.recycle_due_at is not None
        customer.warn_at = late_warning_time(
            customer.owned_since, customer.recycle_due_at, rules.late_warning_fraction
        )
    Customer.objects.bulk_update(late, ["warn_at"], batch_size=1000)


def _parts(rules: RecycleRules) -> Iterator[tuple[Q, bool, bool, bool]]:
    """(filter, is_won, has a repurchase anchor, contacted) for each part whose candidates
    differ."""
    won_split: list[tuple[Q, bool, bool]] = [(EVERYONE, False, False)]
    if not rules.exempt_won and rules.won_repurchase_days is not None:
        has_won_deal = Q(Exists(_won_deals()))
        won_split = [(WON & has_won_deal, True, True), (WON & ~has_won_deal, True, False)]
        won_split.append((~WON, False, False))
    elif rules.no_deal_days is not None and not rules.exempt_won:
        won_split = [(WON, True, False), (~WON, False, False)]
    contact_split = [(EVERYONE, True)]
    if rules.first_contact_hours is not None:
        contact_split = [(CONTACTED, True), (NOT_CONTACTED, False)]
    for won_filter, is_won, anchored in won_split:
        for contact_filter, contacted in contact_split:
            yield won_filter & contact_filter, is_won, anchored, contacted


def _repurchase(rules: RecycleRules) -> Expression:
    assert rules.won_repurchase_days is not None
    ends = _won_deals().values("customer_id").annotate(until=Max(WON_DEAL_END)).values("until")
    until = Subquery(ends, output_field=DateTimeField())
    return _shifted(Greatest(F("owned_since"), until), timedelta(days=rules.won_repurchase_days))


def _candidates(rules: RecycleRules, *, is_won: bool, contacted: bool) -> list[Expression]:
    since = F("owned_since")
    found: list[Expression] = []
    if rules.idle_days is not None:
        idle_from = Greatest(since, Coalesce(F("last_effective_activity_at"), since))
        found.append(_shifted(idle_from, timedelta(days=rules.idle_days)))
    if rules.no_deal_days is not None and not is_won:
        found.append(_shifted(since, timedelta(days=rules.no_deal_days)))
    if rules.first_contact_hours is not None and not contacted:
        found.append(_shifted(since, timedelta(hours=rules.first_contact_hours)))
    return found


def _shifted(moment: Combinable, by: timedelta) -> Expression:
    return ExpressionWrapper(moment + by, output_field=DateTimeField())


def _won_deals() -> QuerySet[Deal]:
    return Deal.objects.filter(customer=OuterRef("pk"), stage=DealStage.WON)


def _open_deals() -> QuerySet[Deal]:
    return Deal.objects.filter(customer=OuterRef("pk")).exclude(
        stage__in=[DealStage.WON, DealStage.LOST]
    )
