"""Creating a customer: the building block of every registration and import.

``create_customer`` screens duplicates, keeps the owner's holding cap, writes the customer with
its ``created`` ledger row and lets the assignment rules route a pooled newcomer — all in one
transaction. It trusts its caller on who may receive the customer: the door for a person is
``intake.registration.register_customer``, which decides that for the viewer first.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import signals
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStatus
from highseas.customers.duplicates import Probe, key_values
from highseas.customers.models import Customer
from highseas.customers.public import public_fields, public_rows, public_status
from highseas.customers.regions import normalize_region
from highseas.engine.claims import refuse_cap
from highseas.engine.duplicates import DuplicateAction, DuplicateKeys, Match, MatchKind
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.limits import effective_limits
from highseas.engine.ownership import EventKind, Status
from highseas.pools import dedup, reasons
from highseas.pools.facts import holdings, lock_reps
from highseas.pools.ledger import Entry, label_of, record_event, record_events, state_of
from highseas.pools.models import Pool
from highseas.pools.policies import claim_limits, rep_overrides
from highseas.pools.reasons import Reason
from highseas.pools.rows import insert_instances, reserve_ids
from highseas.pools.schedule import schedule_for
from highseas.pools.services import default_pool
from highseas.routing.services import Trigger, assign_new_customers

KEY_NAMES = ("phone", "email", "credit_code", "name")


@dataclass(frozen=True)
class CreatedCustomer:
    customer: Customer
    note: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)  # possible duplicates


def _owner_within_cap(owner: User, pool: Pool | None, *, let_go: bool) -> HighSeasError | None:
    """Lock the owner and check their holding cap; ``None`` when they may take one more.

    ``let_go``: a refusal sends the customer to the pool, where the rules route it, locking
    the pointers first and then the reps they reach. The owner's lock is then taken in a
    savepoint and let go with it when the cap refuses, else the registration would hold a
    rep and wait on the pointers, the other way round from a rule run."""
    if not let_go:
        return _cap_refusal(owner, pool)
    try:
        with transaction.atomic():
            if refusal := _cap_refusal(owner, pool):
                raise refusal
    except HighSeasError as refusal:
        return refusal
    return None


def _cap_refusal(owner: User, pool: Pool | None) -> HighSeasError | None:
    profiles = lock_reps(owner.pk)
    limits = effective_limits(claim_limits(pool), rep_overrides(profiles.get(owner.pk)))
    return refuse_cap(limits.holding_cap, holdings(owner.pk, count_won=limits.count_won_in_cap))


@transaction.atomic
def create_customer(
    *,
    actor: User,
    fields: dict[str, Any],
    owner: User | None = None,
    pool: Pool | None = None,
    now: datetime | None = None,
    entry_point: str = "api",
    route: bool = True,
    reason: Reason | str = "",
    actor_label: str = "",
    lock_keys: bool = True,
) -> CreatedCustomer:
    """Create a customer owned by ``owner`` (or pooled in ``pool``), with its ledger row.

    1. The pool defaults to the default pool; a pooled customer needs one.
    2. The owner's holding cap holds: a rep who registers a customer while at their cap gets
       it created pooled (and routed by the rules, if any applies), and is told where it went
       (业务注册潜在客户上限); a manager naming
       an owner at their cap is refused with ``holding_cap_reached``.
    3. The ``created`` ledger row records the resulting state and the actor.
    4. Duplicates are screened first, by the pool's policy for ``entry_point`` (manual, api,
       import): an exact match may refuse with ``duplicate``, fuzzy ones come back as
       ``warnings`` (``pools.dedup``).
    5. An import passes ``route=False`` and routes its whole batch at once
       (``intake.importer``), names itself in the ledger row (``reason``, ``actor_label``),
       and does not lock the duplicate keys in its preview, which is rolled back
       (``lock_keys=False``).
    """
    now = now or timezone.now()
    pool = pool or default_pool()
    fields = normalize_region(fields)  # 浙江省 and 浙江 are one province
    screening = dedup.screen(fields, pool=pool, entry_point=entry_point, lock=lock_keys)
    note, facts = "", {}
    fallback = pool if owner == actor else None  # a rep's own registration at their cap
    if owner is not None and (
        refusal := _owner_within_cap(owner, pool, let_go=fallback is not None)
    ):
        if fallback is None:
            raise refusal
        owner, facts = None, refusal.facts
        note = _(
            "You are at your holding cap, so this customer went to the pool %(pool)s unassigned."
        ) % {"pool": fallback.name}
    if owner is None and pool is None:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("A customer without an owner must be put in a pool."),
            errors={"pool": ["required"]},
        )
    customer = Customer(
        **fields,
        **key_values(screening.keys),
        created_by=actor,
        created_at=now,
        owner=owner,
        pool=pool,
        status=CustomerStatus.OWNED if owner else CustomerStatus.POOLED,
        owned_since=now if owner else None,
    )
    plan = schedule_for(
        customer, status=Status(customer.status), owned_since=customer.owned_since, pool=pool
    )
    customer.recycle_due_at, customer.warn_at = plan.due_at, plan.warn_at
    customer.save(force_insert=True)
    reason = reason or Reason(reasons.REGISTERED if owner == actor else reasons.CREATED)
    record_event(
        customer,
        EventKind.CREATED,
        None,
        state_of(customer),
        actor=actor,
        reason=reason,
        at=now,
        actor_label=actor_label,
    )
    # Assignment rules (SPEC §7): a pooled newcomer is routed at once, in this transaction.
    if (
        route
        and customer.status == CustomerStatus.POOLED
        and assign_new_customers(actor, [customer.pk], trigger=Trigger.CREATE, now=now)
    ):
        customer.refresh_from_db()
        if note and customer.owner is not None:
            note = _(
                "You are at your holding cap, so the assignment rules gave this customer "
                "to %(owner)s."
            ) % {"owner": customer.owner.label}
    return CreatedCustomer(customer, note, facts, screening.warnings)


def _key_pairs(keys: DuplicateKeys) -> list[tuple[str, str]]:
    return [(name, value) for name in KEY_NAMES if (value := getattr(keys, name))]


def _builder() -> Callable[[dict[str, Any]], Customer]:
    """A maker of unsaved customers from values by attribute name (``pool_id``, not ``pool``)
    and the model's defaults for the rest. The model's constructor costs more than the insert
    itself in a batch of thousands (a descriptor and a signal per field), so with no one
    listening to ``pre_init``/``post_init`` the customer is made as the constructor leaves
    it — its state, and every attribute in its ``__dict__`` — without running it."""
    fields = Customer._meta.concrete_fields
    blank = Customer()
    defaults = {f.attname: getattr(blank, f.attname) for f in fields}
    fresh = [name for name, value in defaults.items() if isinstance(value, list | dict)]
    positional: Any = Customer  # every concrete field's value in order, as ``from_db`` passes
    listened = signals.pre_init.has_listeners(Customer) or signals.post_init.has_listeners(Customer)

    def build(values: dict[str, Any]) -> Customer:
        unknown = values.keys() - defaults.keys()
        if unknown:
            raise TypeError(f"Customer has no field {sorted(unknown)}")
        attributes = {**defaults, **values}
        for name in fresh:
            if name not in values:
                attributes[name] = copy.copy(defaults[name])
        if listened:
            made: Customer = positional(*attributes.values())
            return made
        customer: Customer = Customer.__new__(Customer)
        customer._state = ModelState()
        customer.__dict__.update(attributes)
        return customer

    return build


@transaction.atomic
def create_pooled_customers(
    *,
    actor: User,
    rows: Sequence[dict[str, Any]],
    pool: Pool,
    now: datetime,
    entry_point: str = "import",
    reason: Reason | str = "",
    actor_label: str = "",
    lock_keys: bool = True,
    probes: Sequence[Probe] | None = None,
    insert: bool = True,
) -> list[Customer | HighSeasError]:
    """The batch form of ``create_customer`` for customers that go to ``pool`` unowned, as an
    import writes them; each row is a customer or the refusal it got, in order. ``probes``:
    the caller's rows already normalized (``normalize_region``) and each one's duplicate keys
    with their blind values (``duplicates.probe_of``), as an import prepares them before the
    batch's transaction; without them both are worked out here. Without ``insert`` the
    customers get the ids an insert would give them (``rows.reserve_ids``) and everything
    else is written (their ledger rows too), but not the customers themselves: the caller
    inserts them later in this transaction (``bulk_assign.Unwritten``), once routed.

    1. Each row is screened like a create against the database as it was before the call
       (``pools.dedup.screen_many``: the pool's policy for the entry point, the exact keys
       locked, the database's matches judged — one statement for the batch); the fuzzy
       matches, which could only warn, are not looked for.
    2. A row sharing an exact key with an earlier row of the same call is judged against that
       row as if it had been written first: under a ``block`` policy it is refused with
       ``duplicate`` naming the earlier row's customer; ``warn`` and ``allow`` let it be.
    3. The customers are written with one INSERT, their keys and their ``created`` ledger rows
       (one INSERT) as ``create_customer`` writes them; pooled, they have no recycle schedule.
    4. Routing is the caller's: it routes the batch at once (``intake.importer``).
    """
    blocks = dedup.action_of(pool, dedup.entry_point_of(entry_point)) is DuplicateAction.BLOCK
    build = _builder()
    results: list[Customer | HighSeasError | tuple[int, tuple[str, ...]]] = []
    seen: dict[tuple[str, str], int] = {}
    built: list[Customer] = []
    if probes is None:
        rows = [normalize_region(row) for row in rows]
    screenings = dedup.screen_many(
        list(rows),
        pool=pool,
        entry_point=entry_point,
        lock=lock_keys,
        probes=None if probes is None else list(probes),
    )
    for index, (fields, screening) in enumerate(zip(rows, screenings, strict=True)):
        if isinstance(screening, HighSeasError):
            results.append(screening)
            continue
        pairs = _key_pairs(screening.keys)
        earlier = [seen[pair] for pair in pairs if pair in seen] if blocks else []
        if earlier:
            first = min(earlier)
            results.append((first, tuple(k for k, v in pairs if seen.get((k, v)) == first)))
            continue
        for pair in pairs:
            seen.setdefault(pair, len(results))
        customer = build(
            {
                **fields,
                **(key_values(screening.keys) if probes is None else probes[index].columns),
                "created_by_id": actor.pk,
                "created_at": now,
                "pool_id": pool.pk,
                "status": CustomerStatus.POOLED,
            }
        )
        results.append(customer)
        built.append(customer)
    if insert:
        insert_instances(built)
    else:
        reserve_ids(built)
    label = label_of(actor.username, actor_label)
    record_events(
        [
            Entry(
                *(c.pk, EventKind.CREATED, None, state_of(c)),
                *(reason or Reason(reasons.CREATED), actor.pk, label),
            )
            for c in built
        ],
        at=now,
    )
    firsts = sorted(
        {c.pk for r in results if isinstance(r, tuple) and isinstance(c := results[r[0]], Customer)}
    )
    if not firsts:
        views: dict[int, dict[str, Any]] = {}
    elif insert:
        views = public_rows(firsts)
    else:
        wanted = set(firsts)
        views = _pooled_views([c for c in built if c.pk in wanted], pool)
    return [_resolved(result, results, views) for result in results]


def _pooled_views(customers: Sequence[Customer], pool: Pool) -> dict[int, dict[str, Any]]:
    """``public_rows`` of customers built pooled in ``pool`` and not inserted yet, from their
    instances."""
    names = public_fields()
    status = public_status(CustomerStatus.POOLED, None).value
    return {
        c.pk: {
            "id": c.pk,
            **{name: getattr(c, name) for name in names},
            "status": status,
            "holder": pool.name,
        }
        for c in customers
    }


def _resolved(
    result: Customer | HighSeasError | tuple[int, tuple[str, ...]],
    results: Sequence[Customer | HighSeasError | tuple[int, tuple[str, ...]]],
    views: dict[int, dict[str, Any]],
) -> Customer | HighSeasError:
    """Step 2's refusal, once the earlier row's customer has its id (the earlier rows'
    public views read in one statement for the batch)."""
    if not isinstance(result, tuple):
        return result
    index, shared = result
    earlier = results[index]
    assert isinstance(earlier, Customer)
    match = Match(earlier.pk, MatchKind.EXACT, shared, 100.0)
    return dedup.refusal(dedup.describe([match], views))
