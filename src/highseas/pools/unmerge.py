"""Undoing a merge within its retention window (SPEC §8: a merge is undoable).

``unmerge`` is one transaction:

1. it undoes the live merge of ``other`` (or the latest one) into the survivor; with none,
   ``not_found``;
2. it refuses after ``undo_until`` (``state_conflict``, naming the deadline), and while the
   survivor is itself merged into a third customer (that merge is undone first);
3. the actor manages the survivor and the other's former holder (or is an admin);
4. the rows the merge moved that are still on the survivor go back; follow-ups logged on
   the survivor since then stay with it;
5. each survivor field the merge changed and nobody edited since gets its old value back;
   its duplicate keys and recycle schedule follow;
6. the other customer returns to its former state — its owner if still active (else its
   pool), frozen only while the freeze still runs — by compare-and-set from the merged-away
   row, with a ``merged`` ledger event on both sides. An owner now at their holding cap gets
   it back with a logged cap override, as when a manager overrides;
7. the merge row is marked undone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import AuditLog, User
from highseas.accounts.visibility import Viewer
from highseas.customers import duplicates
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Comment, Customer, CustomerMerge
from highseas.engine.claims import refuse_cap
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.pools import facts, reasons
from highseas.pools.authority import require_manager_of
from highseas.pools.ledger import record_event, state_of
from highseas.pools.merge import CLOCK_FIELDS, MERGEABLE_FIELDS, MOVED, locked_pair, snapshot
from highseas.pools.models import Pool
from highseas.pools.ownership import limits_for
from highseas.pools.reasons import Reason
from highseas.pools.schedule import refresh_schedule, schedule_for


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def live_merge(survivor_id: int, other_id: int | None) -> CustomerMerge:
    merges = CustomerMerge.objects.select_for_update().filter(
        survivor_id=survivor_id, undone_at__isnull=True
    )
    if other_id is not None:
        merges = merges.filter(absorbed_id=other_id)
    record = merges.order_by("-merged_at", "-pk").first()
    if record is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("There is no merge to undo."))
    return record


def former_state(record: CustomerMerge, other: Customer, now: datetime) -> dict[str, Any]:
    """Step 6: the other customer's ownership fields to restore."""
    was = record.absorbed_state
    owner = User.objects.filter(pk=was["owner"], is_active=True).first() if was["owner"] else None
    frozen_until = _moment(was["frozen_until"])
    if owner is None:
        status = Status.POOLED
    elif was["status"] == CustomerStatus.FROZEN and frozen_until and frozen_until > now:
        status = Status.FROZEN
    else:
        status = Status.OWNED
    return {
        "status": status,
        "owner": owner,
        "pool_id": was["pool"] if was["pool"] or owner else other.pool_id,
        "owned_since": (_moment(was["owned_since"]) or now) if owner else None,
        "frozen_until": frozen_until if status is Status.FROZEN else None,
        "previous_owner_id": was["previous_owner"],
    }


def _allow_over_cap(actor: User, owner: User, customer: Customer, pool: Pool | None) -> None:
    profiles = facts.lock_reps(owner.pk)
    limits = limits_for(owner.pk, pool, profiles)
    refusal = refuse_cap(
        limits.holding_cap, facts.holdings(owner.pk, count_won=limits.count_won_in_cap)
    )
    if refusal is not None:
        AuditLog.objects.create(
            actor=actor,
            action=AuditLog.Action.CAP_OVERRIDE,
            target_type="customer",
            target_id=str(customer.pk),
            detail={"receiver": owner.pk, "reason": "unmerge", **refusal.facts},
        )


def restore_other(
    record: CustomerMerge, other: Customer, state: dict[str, Any], *, actor: User, now: datetime
) -> None:
    before = state_of(other)
    owner: User | None = state["owner"]
    pool = Pool.objects.select_related("recycle_policy").filter(pk=state["pool_id"]).first()
    if owner is not None:
        _allow_over_cap(actor, owner, other, pool)
    plan = schedule_for(
        other,
        status=state["status"],
        owned_since=state["owned_since"],
        pool=pool,
        owner_id=owner.pk if owner is not None else None,
    )
    keys = duplicates.key_values(duplicates.apply_keys(other))
    written = Customer.objects.filter(
        pk=other.pk, status=CustomerStatus.POOLED, merged_into_id=record.survivor_id
    ).update(
        status=state["status"].value,
        owner=owner,
        pool_id=state["pool_id"],
        owned_since=state["owned_since"],
        frozen_until=state["frozen_until"],
        previous_owner_id=state["previous_owner_id"],
        recycle_due_at=plan.due_at,
        warn_at=plan.warn_at,
        merged_into=None,
        merged_at=None,
        **keys,
    )
    if written != 1:
        raise HighSeasError(
            ErrorCode.STATE_CONFLICT, _("The customer changed meanwhile; reload and try again.")
        )
    after = OwnershipState(state["status"], owner.pk if owner else None, state["pool_id"])
    record_event(
        other,
        EventKind.MERGED,
        before,
        after,
        actor=actor,
        reason=Reason(reasons.UNMERGED_INTO, {"id": record.survivor_id}),
        at=now,
        related_customer=record.survivor,
    )


def restore_survivor(record: CustomerMerge, survivor: Customer) -> None:
    """Steps 4–5."""
    for key, model in (*MOVED.items(), ("comments", Comment)):
        model._default_manager.filter(
            pk__in=record.moved.get(key, []), customer_id=survivor.pk
        ).update(customer_id=record.absorbed_id)
    names = (*MERGEABLE_FIELDS, *CLOCK_FIELDS)
    current = snapshot(survivor, names)
    for name in names:
        if name in record.survivor_before and current[name] == record.survivor_after.get(name):
            value = record.survivor_before[name]
            setattr(survivor, name, _moment(value) if name in CLOCK_FIELDS else value)
    duplicates.apply_keys(survivor)
    survivor.save(update_fields=[*names, *duplicates.KEY_COLUMNS.values(), "updated_at"])
    refresh_schedule(survivor)


def _require_managers(actor: User, survivor: Customer, state: dict[str, Any]) -> None:
    """Step 3: the other customer is judged as it will be again."""
    viewer = Viewer(actor)
    require_manager_of(viewer, survivor)
    require_manager_of(viewer, Customer(owner=state["owner"], pool_id=state["pool_id"]))


@transaction.atomic
def unmerge(
    actor: User, survivor_id: int, other_id: int | None = None, *, now: datetime | None = None
) -> CustomerMerge:
    now = now or timezone.now()
    record = live_merge(survivor_id, other_id)
    if now > record.undo_until:
        raise HighSeasError(
            ErrorCode.STATE_CONFLICT,
            _("This merge can no longer be undone."),
            undo_until=record.undo_until.isoformat(),
        )
    if record.absorbed_state.get("owner"):
        # the ownership services' order: the rep the other customer goes back to, then the
        # customers (``_allow_over_cap`` counts that rep's holdings under this lock)
        facts.lock_rep_rows([record.absorbed_state["owner"]])
    found = locked_pair(record.survivor_id, record.absorbed_id)
    survivor, other = found[record.survivor_id], found[record.absorbed_id]
    if survivor.merged_into_id is not None:
        raise HighSeasError(
            ErrorCode.STATE_CONFLICT,
            _("The surviving customer was merged again since; undo that merge first."),
            merged_into=survivor.merged_into_id,
        )
    state = former_state(record, other, now)
    _require_managers(actor, survivor, state)
    restore_survivor(record, survivor)
    restore_other(record, other, state, actor=actor, now=now)
    here = state_of(survivor)
    record_event(
        survivor,
        EventKind.MERGED,
        here,
        here,
        actor=actor,
        reason=Reason(reasons.UNMERGED_FROM, {"id": other.pk}),
        at=now,
        related_customer=other,
    )
    record.undone_at, record.undone_by = now, actor
    record.save(update_fields=["undone_at", "undone_by"])
    return record
