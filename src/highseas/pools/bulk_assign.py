"""Assignments made by rules, set-based: the one way a rule changes a customer's owner.

``assign_many`` takes what a plan decided — each customer, the rep to give it to, and the rule
acting (``authority.RuleAuthority``) — and, in ONE transaction (a savepoint inside the
caller's), set-based whatever the number of customers:

1. locks the receivers (``facts.lock_reps``, in id order), then the customers (``FOR UPDATE``);
2. re-checks every grant against the database, not against the plan: the customer is still
   pooled and not merged, the rule may act on its pool and give to that rep, the rep is active
   and not on leave, and neither the holding cap nor the daily quota would be passed — from
   one grouped count of the receivers' holdings and one of what they were given today (or
   the counts a backlog run's batch made under the same locks, handed in as ``Loads`` and
   trusted while the ledger has not moved since), kept current grant after grant. A grant
   that fails is refused: the customer stays pooled and the grant carries the refusal
   (``grant.refusal``, a ``HighSeasError`` with its code);
3. writes the rest with compare-and-set ``UPDATE … FROM (VALUES …) WHERE … AND status =
   'pooled' AND owner_id IS NULL AND pool_id = v.pool`` (``set_update``), each customer to its
   owner and schedule, checking that every row changed. Rows it locked and read itself must
   have (anything else is a defect, and rolls back); when a row the caller handed in as
   pooled did not change, the savepoint is rolled back and the grants decided again from the
   rows read and locked here, so a customer taken meanwhile is refused (``already_owned``)
   and leaves no trace. A customer the caller built but has not inserted yet (``Unwritten``)
   is not updated: its instance is set owned, and the caller's ``INSERT`` writes it so;
4. appends the ``assigned`` ledger rows in one statement (``ledger.record_events``: no actor,
   ``actor_label`` ``system:rule:<id>``) and tells each receiver once, in one statement of
   the same transaction; a part of a larger job (``told_as``: an assignment run's batch) adds
   to the receiver's one notification of the job instead (``notify.services.notify_tallies``).
When every grant is refused the savepoint is rolled back, so nothing stays locked for them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import RepProfile, User
from highseas.customers.choices import CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.limits import ClaimLimits, effective_limits, strictest
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.engine.recycle import CustomerClock, Schedule, schedule
from highseas.notify.services import NAMED, Draft, Tally, notify_many, notify_tallies
from highseas.pools import facts
from highseas.pools.authority import RuleAuthority, rule_refusal
from highseas.pools.ledger import Entry, record_events
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.policies import claim_limits, recycle_rules, rep_overrides
from highseas.pools.reasons import Reason
from highseas.pools.rows import db_datetime, db_time, insert_instances
from highseas.pools.schedule import leave_pauses, won_until
from highseas.pools.set_update import update_rows

READ_CHUNK = 5_000
COLUMNS = (
    *("id", "name", "pool_id", "status", "owner_id", "merged_into_id", "level", "stage"),
    *("last_effective_activity_at", "last_activity_at"),
)


Rows = Mapping[int, Mapping[str, Any]]  # customer rows by id
_STILL_POOLED = (
    ("status", "=", CustomerStatus.POOLED.value),
    ("owner", "is null", None),
    ("merged_into", "is null", None),
)


@dataclass
class Grant:
    """One planned assignment: ``authority`` gives ``customer_id`` to ``receiver_id``.
    ``daily_quota`` is the rule's own quota for this rep (the pool's and the rep's apply too);
    ``refusal`` is set when ``assign_many`` refused it."""

    authority: RuleAuthority
    customer_id: int
    receiver_id: int
    reason: Reason | str
    daily_quota: int | None = None
    refusal: HighSeasError | None = None


class Unwritten:
    """Customers a caller built and gave their ids (``rows.reserve_ids``) but has not
    inserted yet, by id: an import's batch, routed before it is written so that each row is
    written once, already owned (``Unwritten.insert``, after the grants, in the same
    transaction). A grant to one of them needs no compare-and-set: nobody else can see, lock,
    take or change a row that is not inserted yet, and the grant holds the receiver's lock as
    every grant does; so ``assign_many`` sets the instance owned (owner, status, owned since,
    recycle schedule) and writes its ledger row and the receiver's notification as for any
    other row (their foreign keys to the customer are checked at commit:
    ``DEFERRABLE INITIALLY DEFERRED`` on both databases). Every other row of the same call
    still goes through the compare-and-set."""

    def __init__(self, customers: Sequence[Customer]) -> None:
        if any(customer.pk is None for customer in customers):
            raise ValueError("unwritten customers carry their reserved ids")
        self.customers: dict[int, Customer] = {customer.pk: customer for customer in customers}

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self.customers

    def row(self, customer_id: int) -> dict[str, Any]:
        """The customer's row as ``_lock_customers`` reads one (``COLUMNS``)."""
        customer = self.customers[customer_id]
        return {column: getattr(customer, column) for column in COLUMNS}

    def own(self, customer_id: int, owner_id: int, now: datetime, plan: Schedule) -> None:
        """What the compare-and-set would write, set on the instance."""
        customer = self.customers[customer_id]
        customer.owner_id = owner_id
        customer.status = CustomerStatus.OWNED
        customer.owned_since = now
        customer.recycle_due_at, customer.warn_at = plan.due_at, plan.warn_at

    def insert(self) -> None:
        """Write the customers, in id order, with their reserved ids, as they are now."""
        insert_instances(sorted(self.customers.values(), key=_pk), reserved=True)
        self.customers = {}


def _pk(customer: Customer) -> int:
    return customer.pk


class _NothingGranted(Exception):
    """Rolls back the savepoint (and its locks) when every grant was refused."""


class _Moved(Exception):
    """Rolls back the savepoint when a row the caller handed in as pooled (``locked``) was
    not pooled any more at the compare-and-set: the grants are decided again from the rows
    as they are, and the moved customers refused."""


def assign_many(
    grants: Sequence[Grant],
    *,
    now: datetime | None = None,
    locked: Rows | None = None,
    pools: Mapping[int, Pool] | None = None,
    loads: Loads | None = None,
    unwritten: Unwritten | None = None,
    told_as: str = "",
) -> list[Grant]:
    """Apply the grants that still hold (see the module's rules); return them. The refused
    ones carry their refusal and changed nothing. ``unwritten``: the customers among them that
    the caller has not inserted yet (``Unwritten``), set owned in memory instead of updated.
    ``told_as``: the job these grants are a part of (an assignment run), whose receivers
    each get one notification that every part adds to; else one per receiver and call.

    ``locked`` spares re-reading the customers when the caller has just read them, pooled,
    under their row locks in this same transaction (a backlog run's batch): rows with at least
    ``id, name, pool_id, level, stage, last_effective_activity_at, last_activity_at``. The
    compare-and-set still checks every row. ``pools`` spares reading the customers' pools
    when the caller has them at hand, with their claim and recycle policies.

    ``loads`` spares counting the receivers' holdings and what they were given today when
    the caller has just counted them in this same transaction, under the receivers' locks
    it still holds (a backlog run's segment, which planned from them); they are counted
    here again if the ledger has moved since (``Loads``) or a receiver is missing."""
    now = now or timezone.now()
    if not grants:
        return []
    try:
        with transaction.atomic():
            granted = _assign(grants, now, locked, pools, loads, unwritten, told_as)
            if not granted:
                raise _NothingGranted
    except _NothingGranted:
        return []
    except _Moved:  # nothing of it was written; read and lock the rows, and decide again
        for grant in grants:
            grant.refusal = None
        return assign_many(grants, now=now, pools=pools, unwritten=unwritten, told_as=told_as)
    return granted


@dataclass
class _Load:
    open: int
    won: int
    today: int


@dataclass(frozen=True)
class Loads:
    """What the receivers hold, (open, won) (``facts.holdings_of``), and what each was given
    on the day of the grants (``facts.assigned_on``, or kept current since; every receiver
    a key, with 0 for none), as a caller
    counted them in the current transaction under the receivers' locks, which it still
    holds. What keeps them true is those locks: every writer that adds to a receiver's
    holdings or to what it was given today takes that receiver's lock first. ``mark``, the
    ledger's highest id read before counting (``ledger_mark``), is only a belt against this
    transaction's own writes since (on PostgreSQL another transaction's ids show at its
    commit, not in id order, so the mark would not see every other writer)."""

    held: Mapping[int, tuple[int, int]]
    given: Mapping[int, int]
    mark: int


def ledger_mark() -> int:
    """The ledger's highest id (0 when empty): one look at the primary key's index."""
    return OwnershipEvent.objects.aggregate(top=Max("id"))["top"] or 0


def _loads(receivers: list[int], now: datetime, known: Loads | None) -> dict[int, _Load]:
    """Each receiver's counts: ``known`` when it covers them all and the ledger has not
    moved since it was counted, else counted here."""
    if (
        known is not None
        and all(rep in known.given for rep in receivers)
        and ledger_mark() == known.mark
    ):
        held, given = known.held, known.given
    else:
        held = facts.holdings_of(receivers)
        given = facts.assigned_on(receivers, now)
    return {rep: _Load(*held.get(rep, (0, 0)), today=given.get(rep, 0)) for rep in receivers}


def _assign(
    grants: Sequence[Grant],
    now: datetime,
    locked: Rows | None,
    known_pools: Mapping[int, Pool] | None,
    known_loads: Loads | None,
    unwritten: Unwritten | None = None,
    told_as: str = "",
) -> list[Grant]:
    receivers = sorted({g.receiver_id for g in grants})
    profiles = facts.lock_reps(*receivers)
    loads = _loads(receivers, now, known_loads)
    if locked is not None:
        rows = locked
    elif unwritten is None:
        rows = _lock_customers([g.customer_id for g in grants])
    else:  # the unwritten rows are pooled as built: only the others are read and locked
        ids = [g.customer_id for g in grants]
        rows = {
            **_lock_customers([pk for pk in ids if pk not in unwritten]),
            **{pk: unwritten.row(pk) for pk in ids if pk in unwritten},
        }
    available = _available(receivers, profiles, now)
    pool_ids = {row["pool_id"] for row in rows.values() if row["pool_id"] is not None}
    if known_pools is not None and pool_ids <= known_pools.keys():
        pools = {pool_id: known_pools[pool_id] for pool_id in pool_ids}
    else:
        pools = Pool.objects.select_related("claim_policy", "recycle_policy").in_bulk(pool_ids)
    limits: dict[tuple[int | None, int], ClaimLimits] = {}
    taken: set[int] = set()
    granted: list[Grant] = []
    for grant in grants:
        row = rows.get(grant.customer_id)
        if row is None or grant.customer_id in taken or (locked is None and not _pooled(row)):
            grant.refusal = _conflict(row)
            continue
        pool_id, rep = row["pool_id"], grant.receiver_id
        refusal = rule_refusal(grant.authority, pool_id, rep, available=available[rep])
        if refusal is None:
            key = (pool_id, rep)
            if key not in limits:
                limits[key] = effective_limits(
                    claim_limits(pools.get(pool_id)), rep_overrides(profiles.get(rep))
                )
            refusal = _over_limit(limits[key], loads[rep], grant.daily_quota)
        if refusal is not None:
            grant.refusal = refusal
            continue
        load = loads[rep]
        if row["stage"] == CustomerStage.WON:
            load.won += 1
        else:
            load.open += 1
        load.today += 1
        taken.add(grant.customer_id)
        granted.append(grant)
    if granted:
        handed_in = locked is not None
        _write(granted, rows, pools, now, handed_in=handed_in, unwritten=unwritten, told_as=told_as)
    return granted


def _lock_customers(ids: list[int]) -> Rows:
    found: dict[int, dict[str, Any]] = {}
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), READ_CHUNK):
        chunk = ordered[start : start + READ_CHUNK]
        locked = Customer.objects.filter(pk__in=chunk).select_for_update(of=("self",))
        found.update((row["id"], row) for row in locked.order_by("pk").values(*COLUMNS))
    return found


def _pooled(row: Mapping[str, Any]) -> bool:
    return (
        row["status"] == CustomerStatus.POOLED
        and row["owner_id"] is None
        and row["merged_into_id"] is None
    )


def _conflict(row: Mapping[str, Any] | None) -> HighSeasError:
    if row is None or row["merged_into_id"] is not None:
        return HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    holder = User.objects.filter(pk=row["owner_id"]).first() if row["owner_id"] else None
    if holder is not None:
        return HighSeasError(
            ErrorCode.ALREADY_OWNED,
            _("This customer already has an owner."),
            holder=holder.label,
            status=row["status"],
        )
    return HighSeasError(
        ErrorCode.STATE_CONFLICT, _("The customer changed meanwhile; reload and try again.")
    )


def _available(
    receivers: list[int], profiles: dict[int, RepProfile], now: datetime
) -> dict[int, bool]:
    """Whether each receiver is active and not on leave today."""
    today = timezone.localtime(now).date()
    return {
        rep: profiles[rep].user.is_active
        and profiles[rep].is_active
        and not facts.on_leave(profiles[rep], today)
        for rep in receivers
    }


def _over_limit(limits: ClaimLimits, load: _Load, rule_quota: int | None) -> HighSeasError | None:
    """The holding cap and the daily quota, as the planner checks them (``engine.routing``)."""
    counted = load.open + (load.won if limits.count_won_in_cap else 0)
    if limits.holding_cap is not None and counted >= limits.holding_cap:
        return HighSeasError(
            ErrorCode.HOLDING_CAP_REACHED,
            _("The rep already holds as many customers as they may."),
            used=counted,
            limit=limits.holding_cap,
        )
    capacity = strictest(limits.daily_quota, rule_quota)
    if capacity is not None and load.today >= capacity:
        return HighSeasError(
            ErrorCode.CLAIM_QUOTA_EXCEEDED,
            _("The rep was given as many customers today as they may be."),
            period="day",
            used=load.today,
            limit=capacity,
        )
    return None


def _schedules(
    granted: list[Grant],
    rows: Rows,
    pools: dict[int, Pool],
    now: datetime,
) -> dict[int, Schedule]:
    """Each customer's recycle schedule as owned from ``now`` (as ``ownership.move`` sets it),
    computed once per distinct clock: most of a backlog shares a handful."""
    rules = {pool_id: recycle_rules(pool) for pool_id, pool in pools.items()}
    needs_deals = any(r is not None and r.exempt_open_deal for r in rules.values())
    open_deals = _open_deals([g.customer_id for g in granted]) if needs_deals else set()
    needs_won_ends = any(
        r is not None and r.won_repurchase_days is not None for r in rules.values()
    )
    won_ends = (
        won_until(
            g.customer_id for g in granted if rows[g.customer_id]["stage"] == CustomerStage.WON
        )
        if needs_won_ends
        else {}
    )
    found: dict[int, Schedule] = {}
    alike: dict[tuple[Any, ...], Schedule] = {}
    leaves = leave_pauses(g.receiver_id for g in granted)  # a receiver's recorded leave
    for grant in granted:
        row = rows[grant.customer_id]
        key = (
            *(row["pool_id"], row["level"], row["stage"] == CustomerStage.WON),
            grant.customer_id in open_deals,
            *(row["last_effective_activity_at"], row["last_activity_at"]),
            won_ends.get(grant.customer_id),
            leaves.get(grant.receiver_id, ()),
        )
        if key not in alike:
            clock = CustomerClock(Status.OWNED, *key[1:4], now, *key[4:7], pauses=key[7])
            alike[key] = schedule(rules.get(row["pool_id"]), clock)
        found[grant.customer_id] = alike[key]
    return found


def _open_deals(customer_ids: list[int]) -> set[int]:
    return set(
        Deal.objects.filter(customer_id__in=customer_ids)
        .exclude(stage__in=[DealStage.WON, DealStage.LOST])
        .values_list("customer_id", flat=True)
    )


def _write(
    granted: list[Grant],
    rows: Rows,
    pools: dict[int, Pool],
    now: datetime,
    *,
    handed_in: bool,
    unwritten: Unwritten | None = None,
    told_as: str = "",
) -> None:
    """One compare-and-set ``UPDATE … FROM (VALUES …)`` per 500 customers, each to its owner
    and schedule (``set_update``), then the ledger rows in one statement. A row that did not
    change was not pooled any more: a defect when this call locked and read it, or else
    (``handed_in``: the caller's rows) ``_Moved``, so the grants are decided again. The
    ``unwritten`` customers are set owned in memory instead (``Unwritten``)."""
    plans = _schedules(granted, rows, pools, now)
    updated = (
        granted if unwritten is None else [g for g in granted if g.customer_id not in unwritten]
    )
    adapted: dict[datetime | None, Any] = {}  # most of a batch shares a handful of times

    def at(moment: datetime | None) -> Any:
        if moment not in adapted:
            adapted[moment] = db_time(moment)
        return adapted[moment]

    values = [
        (
            *(g.customer_id, rows[g.customer_id]["pool_id"], g.receiver_id),
            *(at(plans[g.customer_id].due_at), at(plans[g.customer_id].warn_at)),
        )
        for g in updated
    ]
    written = update_rows(
        Customer,
        ("owner", "recycle_due_at", "warn_at"),
        values,
        match=("pool",),
        same={"status": CustomerStatus.OWNED.value, "owned_since": db_datetime(now)},
        guard=_STILL_POOLED,
    )
    if written != len(values) and handed_in:
        raise _Moved
    if written != len(values):
        raise RuntimeError(f"assignment changed {written} of {len(values)} locked rows")
    if unwritten is not None:  # only once the others held: a ``_Moved`` decides them again
        for g in granted:
            if g.customer_id in unwritten:
                unwritten.own(g.customer_id, g.receiver_id, now, plans[g.customer_id])
    states: dict[tuple[int | None, int | None], OwnershipState] = {}

    def state(owner_id: int | None, pool_id: int | None) -> OwnershipState:
        if (owner_id, pool_id) not in states:
            status = Status.POOLED if owner_id is None else Status.OWNED
            states[(owner_id, pool_id)] = OwnershipState(status, owner_id, pool_id)
        return states[(owner_id, pool_id)]

    entries = []
    for g in granted:
        pool_id = rows[g.customer_id]["pool_id"]
        entries.append(
            Entry(
                g.customer_id,
                EventKind.ASSIGNED,
                state(None, pool_id),
                state(g.receiver_id, pool_id),
                g.reason,
                actor_label=g.authority.label,
            )
        )
    record_events(entries, at=now)
    _tell_receivers(granted, rows, told_as)


def _given_title(count: int) -> str:
    if count == 1:
        return _("A customer was given to you")
    return _("%(count)s customers were given to you") % {"count": count}


def _tell_receivers(granted: list[Grant], rows: Rows, told_as: str = "") -> None:
    """One notification per receiver, written with the grants: in their transaction, so a
    receiver is told if and only if the grants commit (e-mail and webhook leave later, by the
    outbox). A part of a job (``told_as``) adds to the receiver's one
    notification of that job (``notify_tallies``): a run whose batches shrink while claims
    wait (``config.pacing``) tells each rep once, not once a batch."""
    by_owner: dict[int, list[Grant]] = defaultdict(list)
    for grant in granted:
        by_owner[grant.receiver_id].append(grant)
    if told_as:
        tallies = [
            Tally(
                owner_id,
                f"{told_as}:{owner_id}",
                len(given),
                [rows[g.customer_id]["name"] for g in given[:NAMED]],
                given[0].customer_id,
            )
            for owner_id, given in by_owner.items()
        ]
        notify_tallies(EventKind.ASSIGNED.value, tallies, _given_title)
        return
    drafts: list[Draft] = []
    for owner_id, given in by_owner.items():
        if len(given) == 1:
            title, customer_id = _("A customer was given to you"), given[0].customer_id
        else:
            title = _("%(count)s customers were given to you") % {"count": len(given)}
            customer_id = None
        listed = "、".join(rows[g.customer_id]["name"] for g in given[:5])
        body = listed + ("…" if len(given) > 5 else "")
        drafts.append((owner_id, EventKind.ASSIGNED.value, title, body, customer_id))
    notify_many(drafts)
