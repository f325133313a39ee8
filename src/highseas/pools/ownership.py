"""Ownership services: claim, release, assign, transfer, freeze, unfreeze (SPEC §4–5).

Each is ONE transaction that
1. takes the locks of the reps whose limits it depends on (``facts.lock_reps``),
2. re-checks every rule inside the transaction (membership, quota, cap, cooldown, authority),
3. writes with compare-and-set — ``UPDATE … WHERE id = ? AND status/owner/pool = expected`` —
   and proceeds only when exactly one row changed, else raises a typed error,
4. appends its ledger row and recomputes ``recycle_due_at`` / ``warn_at``,
5. writes its notifications in the same transaction (``notify_many``), so they exist if and
   only if it commits and nobody sees them before (SPEC §4: never before the commit); e-mail
   and webhook leave after it, by the outbox.
A refusal raises inside the transaction, so it leaves no trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import AuditLog, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.bounds import moment_error, require_valid
from highseas.engine.claims import ClaimFacts, decide_claim, refuse_cap
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.limits import ClaimLimits, effective_limits
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.notify.services import Draft, notify_many
from highseas.pools import assign_statements, claim_statements, facts, move_statements, reasons
from highseas.pools.authority import (
    is_member,
    require_manager_of,
    require_owner_or_manager,
    require_receiver,
)
from highseas.pools.destinations import home_pool_id
from highseas.pools.ledger import label_of, reason_values, record_event, state_of
from highseas.pools.models import ClaimPolicy, ClaimRequest, OwnershipEvent, Pool
from highseas.pools.policies import claim_limits, rep_overrides
from highseas.pools.quotas import performance_limits, quota_ref
from highseas.pools.reasons import Reason
from highseas.pools.rows import db_datetime
from highseas.pools.schedule import schedule_for


@dataclass(frozen=True)
class Outcome:
    customer: Customer
    request: ClaimRequest | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    # a claim's: the rep's standing in the customer's pool, this claim counted (``quotas``)
    standing: dict[str, Any] | None = None


def load_customer(customer_id: int) -> Customer:
    """The customer with its owner, pool and the pool's policies, in one precompiled statement;
    a merged-away row moves no more."""
    customer = move_statements.load_customer(customer_id)
    if customer is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    return customer


def _conflict(customer_id: int) -> HighSeasError:
    """What to say when a compare-and-set found the customer changed under us."""
    current = Customer.objects.select_related("owner").filter(pk=customer_id).first()
    if current is not None and current.owner is not None:
        return HighSeasError(
            ErrorCode.ALREADY_OWNED,
            _("This customer already has an owner."),
            holder=current.owner.label,
            status=current.status,
        )
    return HighSeasError(
        ErrorCode.STATE_CONFLICT, _("The customer changed meanwhile; reload and try again.")
    )


def _pool(pool_id: int | None) -> Pool | None:
    if pool_id is None:
        return None
    return Pool.objects.select_related("recycle_policy").filter(pk=pool_id).first()


def move(
    customer: Customer,
    kind: EventKind,
    after: OwnershipState,
    *,
    actor: User | None,
    reason: Reason | str,
    now: datetime,
    actor_label: str = "",
    policy_ref: str = "",
    frozen_until: datetime | None = None,
    new_owner: User | None = None,
) -> Customer:
    """Compare-and-set the customer from its loaded state to ``after``, with its ledger row.
    ``new_owner`` is the user object of ``after.owner_id`` when the caller has it at hand."""
    before = state_of(customer)
    changes_owner = after.owner_id != before.owner_id
    owned_since = (now if changes_owner else customer.owned_since) if after.owner_id else None
    pool = customer.pool if after.pool_id == customer.pool_id else _pool(after.pool_id)
    plan = schedule_for(
        customer,
        status=after.status,
        owned_since=owned_since,
        pool=pool,
        owner_id=after.owner_id,
    )
    fields: dict[str, Any] = {
        "status": after.status.value,
        "owner_id": after.owner_id,
        "pool_id": after.pool_id,
        "owned_since": owned_since,
        "frozen_until": frozen_until,
        "recycle_due_at": plan.due_at,
        "warn_at": plan.warn_at,
    }
    if changes_owner and before.owner_id is not None:
        fields["previous_owner_id"] = before.owner_id
    expected = (before.status.value, before.owner_id, before.pool_id)
    if not move_statements.compare_and_set(customer.pk, expected, fields):
        raise _conflict(customer.pk)
    label = label_of(actor.username if actor else None, actor_label)
    if actor is None and not label.startswith("system:"):  # the ledger's own default label
        record_event(customer, kind, before, after, actor=None, reason=reason, at=now)
    else:  # the ledger row as one precompiled INSERT, no per-call compilation
        claim_statements.insert_ledger_row(
            (
                *(customer.pk, kind.value, before.status.value, before.owner_id, before.pool_id),
                *(after.status.value, after.owner_id, after.pool_id, actor.pk if actor else None),
                label,
                *(*reason_values(reason), policy_ref, db_datetime(now)),
            )
        )
    for name, value in fields.items():
        setattr(customer, name, value)
    if new_owner is None or new_owner.pk != after.owner_id:
        new_owner = User.objects.filter(pk=after.owner_id).first() if after.owner_id else None
    customer.owner = new_owner
    customer.pool = pool
    return customer


def limits_for(user_id: int, pool: Pool | None, profiles: dict[int, Any]) -> ClaimLimits:
    pool_limits = performance_limits(claim_limits(pool), pool.pk if pool else None, user_id)
    return effective_limits(pool_limits, rep_overrides(profiles.get(user_id)))


def claim_facts(
    claimant: User, customer: Customer, limits: ClaimLimits, now: datetime
) -> ClaimFacts:
    counts = facts.claim_counts(
        claimant,
        customer.pool_id,
        customer.pk,
        now,
        timezone.get_default_timezone(),
        count_won=limits.count_won_in_cap,
    )
    return ClaimFacts(
        status=Status(customer.status),
        is_member=counts.is_member,
        holder_name=customer.owner.label if customer.owner else None,
        holdings=counts.holdings,
        claims_today=counts.claims_today,
        claims_this_week=counts.claims_this_week,
        lost_at=counts.lost_at,
    )


def _require_reason(pool: Pool | None, reason: str) -> None:
    policy: ClaimPolicy | None = getattr(pool, "claim_policy", None) if pool else None
    claim_statements.require_reason(policy is not None and policy.requires_reason, reason)


def claim_for(
    claimant: User,
    customer_id: int,
    *,
    actor: User,
    reason: Reason | str,
    now: datetime,
    rep_reason: str | None = None,
) -> tuple[Customer, ClaimLimits]:
    """The claim rules and write, for the claimant (the approver may be the actor).
    ``rep_reason`` is what the rep typed, checked when the pool asks for a reason.
    Call inside a transaction."""
    profiles = facts.lock_reps(claimant.pk)
    customer = load_customer(customer_id)
    limits = limits_for(claimant.pk, customer.pool, profiles)
    refusal = decide_claim(limits, claim_facts(claimant, customer, limits, now), now)
    if refusal is not None:
        raise refusal
    if rep_reason is not None:
        _require_reason(customer.pool, rep_reason)
    if limits.requires_approval and actor == claimant:
        return customer, limits
    after = OwnershipState(Status.OWNED, claimant.pk, customer.pool_id)
    move(
        customer,
        EventKind.CLAIMED,
        after,
        actor=actor,
        reason=reason,
        now=now,
        new_owner=claimant,
        policy_ref=quota_ref(limits),  # the quotas this claim was judged by, for `check`
    )
    return customer, limits


def open_request(
    requester: User, customer: Customer, reason: str, limits: ClaimLimits, now: datetime
) -> ClaimRequest:
    """Record a claim that waits for a manager; one pending request per rep and customer."""
    pending = ClaimRequest.objects.filter(
        customer=customer, requester=requester, state=ClaimRequest.State.PENDING
    ).first()
    if pending is not None:
        return pending
    expiry = limits.approval_expiry_hours
    return ClaimRequest.objects.create(
        customer=customer,
        requester=requester,
        reason=reason,  # empty when the rep typed none: read as "Claim request"
        created_at=now,
        expires_at=now + timedelta(hours=expiry) if expiry else None,
    )


def claim(
    actor: User, customer_id: int, *, reason: str = "", now: datetime | None = None
) -> Outcome:
    """A rep takes a pooled customer; in an approval pool the claim becomes a request. A
    refusal that wrote nothing commits its (empty) transaction and raises after it: a rollback
    would make psycopg forget the connection's prepared statements (``claim_statements``)."""
    with transaction.atomic():
        try:
            return _claim(actor, customer_id, reason=reason, now=now or timezone.now())
        except HighSeasError as error:
            if not error.wrote_nothing:
                raise
            refusal = error
    raise refusal


def _claim(actor: User, customer_id: int, *, reason: str, now: datetime) -> Outcome:
    reason = reason.strip()
    ledger_reason = reason or Reason(reasons.CLAIMED)
    claimed = claim_statements.claim(
        actor, customer_id, reason=ledger_reason, rep_reason=reason, now=now
    )
    if claimed is not None:  # the rush path: a few precompiled statements
        return Outcome(claimed.customer, standing=claimed.standing)
    customer, limits = claim_for(
        actor, customer_id, actor=actor, reason=ledger_reason, now=now, rep_reason=reason
    )
    if customer.status == CustomerStatus.POOLED:
        return Outcome(customer, request=open_request(actor, customer, reason, limits, now))
    return Outcome(customer)


@transaction.atomic
def release(
    actor: User,
    customer_id: int,
    *,
    reason: Reason | str,
    to_pool: Pool | None = None,
    now: datetime | None = None,
) -> Outcome:
    now = now or timezone.now()
    if isinstance(reason, str) and not reason.strip():
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Say why you release the customer."),
            errors={"reason": ["required"]},
        )
    viewer = Viewer(actor)
    customer = load_customer(customer_id)
    require_owner_or_manager(viewer, customer)
    if customer.owner is None:
        raise HighSeasError(ErrorCode.NOT_OWNER, _("This customer is already in a pool."))
    target = to_pool or customer.pool or Pool.objects.filter(is_default=True).first()
    if target is None:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Name the pool to release into."),
            errors={"pool": ["required"]},
        )
    if to_pool is not None and not (viewer.is_admin or is_member(viewer, to_pool.pk)):
        raise HighSeasError(ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."))
    after = OwnershipState(Status.POOLED, None, target.pk)
    move(customer, EventKind.RELEASED, after, actor=actor, reason=reason, now=now)
    return Outcome(customer)


def _check_cap(
    actor: User,
    receiver: User,
    customer: Customer,
    profiles: dict[int, Any],
    override_cap: bool,
    *,
    pool: Pool | None = None,
) -> None:
    """The receiver's cap under ``pool`` (the customer's pool unless given)."""
    limits = limits_for(receiver.pk, pool or customer.pool, profiles)
    refusal = refuse_cap(
        limits.holding_cap, facts.holdings(receiver.pk, count_won=limits.count_won_in_cap)
    )
    if refusal is None:
        return
    if not override_cap:
        raise refusal
    AuditLog.objects.create(
        actor=actor,
        action=AuditLog.Action.CAP_OVERRIDE,
        target_type="customer",
        target_id=str(customer.pk),
        detail={"receiver": receiver.pk, **refusal.facts},
    )


def _end_freeze_for_transfer(
    customer: Customer, actor: User, receiver: User, now: datetime
) -> None:
    """A transfer ends the freeze the former owner set (the receiver may freeze again within
    their own limits): an ``unfrozen`` row by the manager, just before the ``transferred`` one,
    in the same transaction."""
    after = OwnershipState(Status.OWNED, customer.owner_id, customer.pool_id)
    reason = Reason(reasons.FREEZE_ENDED_BY_TRANSFER, {"receiver": receiver.label})
    move(
        customer,
        EventKind.UNFROZEN,
        after,
        actor=actor,
        reason=reason,
        now=now,
        new_owner=customer.owner,
    )


def _freeze_ended(customer_id: int, now: datetime) -> bool:
    """Whether the transfer just written at ``now`` ended a freeze first."""
    rows = OwnershipEvent.objects.filter(customer_id=customer_id).order_by("-id")
    latest = list(rows.values_list("kind", "at")[:2])
    return len(latest) == 2 and latest[1] == (EventKind.UNFROZEN.value, now)


def _give(
    kind: EventKind,
    actor: User,
    customer_id: int,
    receiver: User,
    *,
    override_cap: bool,
    reason: Reason | str,
    now: datetime,
    actor_label: str = "",
) -> Customer:
    """Assign (from the pool) or transfer (from another rep) to ``receiver``. A customer
    assigned out of a reassign queue lands in the queue's origin pool, under its policies."""
    viewer = Viewer(actor)
    customer = load_customer(customer_id)
    require_manager_of(viewer, customer)  # before the holder or status is revealed
    if kind is EventKind.ASSIGNED and customer.owner is not None:
        raise HighSeasError(
            ErrorCode.ALREADY_OWNED,
            _("This customer already has an owner."),
            holder=customer.owner.label,
            status=customer.status,
        )
    if kind is EventKind.TRANSFERRED and customer.owner is None:
        raise HighSeasError(
            ErrorCode.STATE_CONFLICT, _("This customer is in a pool; assign it instead.")
        )
    profiles = facts.lock_reps(*[u for u in (receiver.pk, customer.owner_id) if u])
    require_receiver(viewer, receiver)
    if customer.owner_id == receiver.pk:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("That user already owns it."),
            errors={"owner": ["unchanged"]},
        )
    home = customer.pool
    if home is not None and home.is_reassign_queue:
        home = _pool(home_pool_id(home))
    _check_cap(actor, receiver, customer, profiles, override_cap, pool=home)
    if kind is EventKind.TRANSFERRED and customer.status == Status.FROZEN:
        _end_freeze_for_transfer(customer, actor, receiver, now)
    after = OwnershipState(Status.OWNED, receiver.pk, home.pk if home else None)
    previous = customer.owner_id
    move(
        customer,
        kind,
        after,
        actor=actor,
        reason=reason,
        now=now,
        actor_label=actor_label,
        new_owner=receiver,
    )
    _tell(kind, receiver, previous, customer)
    return customer


def _tell(kind: EventKind, receiver: User, previous: int | None, customer: Customer) -> None:
    """Tell the receiver (and the former owner) of an assignment or transfer, in one
    statement of its transaction: they are told if and only if it commits, and the move
    stays one transaction (e-mail and webhook leave later, by the outbox)."""
    drafts: list[Draft] = [
        (receiver.pk, kind.value, _("A customer was given to you"), customer.name, customer.pk)
    ]
    if previous:
        moved = _("A customer was moved to another rep")
        drafts.append((previous, kind.value, moved, customer.name, customer.pk))
    notify_many(drafts)


@transaction.atomic
def assign(
    actor: User,
    customer_id: int,
    receiver: User,
    *,
    override_cap: bool = False,
    reason: str = "",
    now: datetime | None = None,
) -> Outcome:
    """A manager gives a pooled customer to a rep. Assignment rules act as themselves
    through ``pools.bulk_assign.assign_many``, never through a user."""
    now = now or timezone.now()
    given = reason or Reason(reasons.ASSIGNED_BY_MANAGER)
    fast = assign_statements.assign(actor, customer_id, receiver, reason=given, now=now)
    if fast is not None:  # the plain case, as a few precompiled statements
        _tell(EventKind.ASSIGNED, receiver, None, fast)
        return Outcome(fast)
    return Outcome(
        _give(
            EventKind.ASSIGNED,
            actor,
            customer_id,
            receiver,
            override_cap=override_cap,
            reason=given,
            now=now,
        )
    )


@transaction.atomic
def transfer(
    actor: User,
    customer_id: int,
    receiver: User,
    *,
    override_cap: bool = False,
    reason: Reason | str = "",
    now: datetime | None = None,
) -> Outcome:
    """A manager moves an owned (or frozen) customer from one rep to another. A freeze ends
    with the transfer; ``facts["unfrozen"]`` says whether one did."""
    now = now or timezone.now()
    customer = _give(
        EventKind.TRANSFERRED,
        actor,
        customer_id,
        receiver,
        override_cap=override_cap,
        reason=reason or Reason(reasons.TRANSFERRED_BY_MANAGER),
        now=now,
    )
    return Outcome(customer, facts={"unfrozen": _freeze_ended(customer.pk, now)})


@transaction.atomic
def freeze(
    actor: User, customer_id: int, *, until: datetime, reason: str, now: datetime | None = None
) -> Outcome:
    """Protect an owned customer from recycling until ``until``."""
    now = now or timezone.now()
    customer = load_customer(customer_id)
    require_owner_or_manager(Viewer(actor), customer)  # before any state is revealed
    if customer.status == CustomerStatus.FROZEN:
        raise HighSeasError(
            ErrorCode.FROZEN,
            _("This customer is already frozen."),
            frozen_until=customer.frozen_until.isoformat() if customer.frozen_until else None,
        )
    if customer.owner_id is None:
        raise HighSeasError(ErrorCode.NOT_OWNER, _("Only an owned customer can be frozen."))
    facts.lock_reps(customer.owner_id)
    limits = claim_limits(customer.pool)
    _check_freeze(limits, customer.owner_id, until, now)
    after = OwnershipState(Status.FROZEN, customer.owner_id, customer.pool_id)
    move(
        customer,
        EventKind.FROZEN,
        after,
        actor=actor,
        reason=reason or Reason(reasons.FROZEN),
        now=now,
        frozen_until=until,
    )
    return Outcome(customer)


def _check_freeze(limits: ClaimLimits, owner_id: int, until: datetime, now: datetime) -> None:
    if error := moment_error(until):
        require_valid({"until": [error]})
    if until <= now:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("A freeze must end in the future."),
            errors={"until": ["in the past"]},
        )
    if limits.max_freeze_days is not None:
        latest = now + timedelta(days=limits.max_freeze_days)
        if until > latest:
            raise HighSeasError(
                ErrorCode.FREEZE_LIMIT_REACHED,
                _("A freeze may not last that long."),
                latest_until=latest.isoformat(),
            )
    if limits.max_frozen is not None:
        frozen = facts.frozen_count(owner_id)
        if frozen >= limits.max_frozen:
            raise HighSeasError(
                ErrorCode.FREEZE_LIMIT_REACHED,
                _("The owner already has as many frozen customers as allowed."),
                frozen=frozen,
                limit=limits.max_frozen,
            )


@transaction.atomic
def unfreeze(
    actor: User | None,
    customer_id: int,
    *,
    reason: Reason | str = "",
    now: datetime | None = None,
    actor_label: str = "",
) -> Outcome:
    now = now or timezone.now()
    customer = load_customer(customer_id)
    if actor is not None:
        require_owner_or_manager(Viewer(actor), customer)
    if customer.status != CustomerStatus.FROZEN:
        raise HighSeasError(ErrorCode.STATE_CONFLICT, _("This customer is not frozen."))
    after = OwnershipState(Status.OWNED, customer.owner_id, customer.pool_id)
    move(
        customer,
        EventKind.UNFROZEN,
        after,
        actor=actor,
        reason=reason or Reason(reasons.UNFROZEN),
        now=now,
        actor_label=actor_label,
    )
    return Outcome(customer)
