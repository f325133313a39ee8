"""Merging a duplicate into the customer that survives it (SPEC §8); the undo is in ``unmerge``.

``merge`` is one transaction:

1. a manager of both customers (or an admin) merges ``other`` into ``survivor``; neither may
   already be merged away, and a customer is not merged into itself;
2. both rows are locked (``SELECT … FOR UPDATE``, in id order);
3. each business field takes the value chosen in ``fields`` (``"this"`` = the survivor's,
   ``"other"``); unchosen fields keep the survivor's value, or take the other's where the
   survivor's is empty; tags are united, custom fields overlaid (the survivor's win);
4. contacts, follow-ups, deals, tasks and comments move to the survivor; the other's pending
   claim requests are rejected; the survivor's follow-up clocks, stage (won when a moved deal
   was won), duplicate keys and recycle schedule follow;
5. ownership follows the survivor. The other customer stays as a hidden row: compare-and-set
   to ``pooled`` in its pool, without owner or duplicate keys, ``merged_into`` the survivor.
   Its ledger gets a ``merged`` event into that state, the survivor's a ``merged`` event
   that keeps its state, each naming the other side, so every ledger still replays
   (``highseas check``);
6. a ``CustomerMerge`` row keeps what the undo needs, for ``HIGHSEAS_MERGE_UNDO_DAYS`` (30).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers import duplicates
from highseas.customers.choices import CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import (
    Activity,
    Comment,
    Contact,
    Customer,
    CustomerMerge,
    Deal,
    Task,
)
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.notify.services import notify
from highseas.pools import reasons
from highseas.pools.authority import require_manager_of
from highseas.pools.ledger import record_event, state_of
from highseas.pools.models import ClaimRequest, Pool
from highseas.pools.reasons import Reason
from highseas.pools.schedule import refresh_schedule

MERGEABLE_FIELDS = (
    "name",
    "kind",
    "credit_code",
    "phone",
    "email",
    "industry",
    "province",
    "city",
    "address",
    "employees",
    "revenue_band",
    "source",
    "campaign",
    "level",
    "stage",
    "tags",
    "custom_fields",
)
CLOCK_FIELDS = ("last_activity_at", "last_effective_activity_at")
MOVED = {"contacts": Contact, "activities": Activity, "deals": Deal, "tasks": Task}
DEFAULT_UNDO_DAYS = 30


def undo_days() -> int:
    return int(getattr(settings, "HIGHSEAS_MERGE_UNDO_DAYS", DEFAULT_UNDO_DAYS))


def locked_pair(first_id: int, second_id: int) -> dict[int, Customer]:
    rows = (
        Customer.objects.select_for_update(of=("self",))
        .select_related("owner", "pool__recycle_policy", "pool__claim_policy")
        .filter(pk__in=[first_id, second_id])
        .order_by("pk")
    )
    return {customer.pk: customer for customer in rows}


def _lock_pending_requests(customer_id: int) -> None:
    """The absorbed customer's pending claim requests, which the merge rejects, locked before
    the customers: an approval locks its request, then the customer it claims, and would
    wait on the merge in a cycle if the merge held the customer and then the request."""
    pending = ClaimRequest.objects.filter(customer_id=customer_id, state=ClaimRequest.State.PENDING)
    list(pending.order_by("pk").select_for_update().values_list("pk", flat=True))


def _live(found: dict[int, Customer], customer_id: int) -> Customer:
    customer = found.get(customer_id)
    if customer is None or customer.merged_into_id is not None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."), customer=customer_id)
    return customer


def chosen_values(survivor: Customer, other: Customer, choices: dict[str, str]) -> dict[str, Any]:
    """Step 3: the survivor's new business field values."""
    unknown = sorted(
        name
        for name, side in choices.items()
        if name not in MERGEABLE_FIELDS or side not in ("this", "other")
    )
    if unknown:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Choose 'this' or 'other' for business fields only."),
            errors={"fields": unknown},
        )
    values: dict[str, Any] = {}
    for name in MERGEABLE_FIELDS:
        mine, theirs = getattr(survivor, name), getattr(other, name)
        if name in choices:
            values[name] = theirs if choices[name] == "other" else mine
        elif name == "tags":
            values[name] = list(dict.fromkeys([*(mine or []), *(theirs or [])]))
        elif name == "custom_fields":
            values[name] = {**(theirs or {}), **(mine or {})}
        else:
            values[name] = mine if mine not in (None, "") else theirs
    return values


def move_related(survivor: Customer, other: Customer) -> dict[str, list[int]]:
    """Step 4: rows of ``other`` re-pointed to ``survivor``; their ids, to undo the move."""
    moved: dict[str, list[int]] = {}
    for key, model in (*MOVED.items(), ("comments", Comment)):
        rows = model._default_manager.filter(customer_id=other.pk)
        moved[key] = sorted(rows.values_list("pk", flat=True))
        rows.update(customer_id=survivor.pk)
    ClaimRequest.objects.filter(customer=other, state=ClaimRequest.State.PENDING).update(
        state=ClaimRequest.State.REJECTED,
        decision_note=_("The customer was merged into another."),
    )
    return moved


def later_clocks(survivor: Customer, other: Customer) -> dict[str, datetime | None]:
    """Each follow-up clock at the later of the two customers' (their follow-ups join)."""
    clocks: dict[str, datetime | None] = {}
    for name in CLOCK_FIELDS:
        present = [t for t in (getattr(survivor, name), getattr(other, name)) if t is not None]
        clocks[name] = max(present) if present else None
    return clocks


def save_survivor(survivor: Customer, values: dict[str, Any]) -> None:
    """Write the survivor's fields, keys and clocks, and recompute its schedule."""
    for name, value in values.items():
        setattr(survivor, name, value)
    if Deal.objects.filter(customer_id=survivor.pk, stage=DealStage.WON).exists():
        survivor.stage = CustomerStage.WON
    duplicates.apply_keys(survivor)
    survivor.save(
        update_fields=[
            *MERGEABLE_FIELDS,
            *CLOCK_FIELDS,
            *duplicates.KEY_COLUMNS.values(),
            "updated_at",
        ]
    )
    refresh_schedule(survivor)


def snapshot(customer: Customer, names: tuple[str, ...]) -> dict[str, Any]:
    """JSON-ready field values (dates as ISO text)."""
    values = {name: getattr(customer, name) for name in names}
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in values.items()
    }


def ownership_snapshot(customer: Customer) -> dict[str, Any]:
    return {
        "status": customer.status,
        "owner": customer.owner_id,
        "pool": customer.pool_id,
        "owned_since": customer.owned_since.isoformat() if customer.owned_since else None,
        "frozen_until": customer.frozen_until.isoformat() if customer.frozen_until else None,
        "previous_owner": customer.previous_owner_id,
    }


def _resting_pool(other: Customer, survivor: Customer) -> int:
    pool_id = (
        other.pool_id
        or survivor.pool_id
        or Pool.objects.filter(is_default=True).values_list("pk", flat=True).first()
    )
    if pool_id is None:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("A merged customer rests in a pool; neither customer has one."),
            errors={"pool": ["required"]},
        )
    return pool_id


def retire(other: Customer, survivor: Customer, *, actor: User, now: datetime) -> None:
    """Step 5: compare-and-set ``other`` to a pooled, merged-away row, with its ledger row."""
    before = state_of(other)
    after = OwnershipState(Status.POOLED, None, _resting_pool(other, survivor))
    expected: dict[str, Any] = {
        "pk": other.pk,
        "status": before.status.value,
        "owner_id": before.owner_id,
        "pool_id": before.pool_id,
        "merged_into__isnull": True,
    }
    written = Customer.objects.filter(**expected).update(
        status=CustomerStatus.POOLED,
        owner=None,
        pool_id=after.pool_id,
        owned_since=None,
        frozen_until=None,
        recycle_due_at=None,
        warn_at=None,
        previous_owner_id=before.owner_id or other.previous_owner_id,
        merged_into=survivor,
        merged_at=now,
        **dict.fromkeys(duplicates.KEY_COLUMNS.values()),  # no longer anyone's duplicate
    )
    if written != 1:
        raise HighSeasError(
            ErrorCode.STATE_CONFLICT, _("The customer changed meanwhile; reload and try again.")
        )
    reason = Reason(reasons.MERGED_INTO, {"id": survivor.pk, "name": survivor.name})
    record_event(
        other,
        EventKind.MERGED,
        before,
        after,
        actor=actor,
        reason=reason,
        at=now,
        related_customer=survivor,
    )


def mark_survivor(survivor: Customer, other: Customer, *, actor: User, now: datetime) -> None:
    """The survivor's ``merged`` ledger event (its state unchanged), and a word in its transaction
    to the other's owner when the merge took their customer away."""
    state = state_of(survivor)
    reason = Reason(reasons.MERGED_FROM, {"id": other.pk, "name": other.name})
    record_event(
        survivor,
        EventKind.MERGED,
        state,
        state,
        actor=actor,
        reason=reason,
        at=now,
        related_customer=other,
    )
    if other.owner_id is not None and other.owner_id != survivor.owner_id:
        notify(
            other.owner_id,
            EventKind.MERGED.value,
            _("Your customer was merged into another"),
            _("%(other)s was merged into %(survivor)s.")
            % {"other": other.name, "survivor": survivor.name},
            survivor.pk,
        )


@transaction.atomic
def merge(
    actor: User,
    survivor_id: int,
    other_id: int,
    *,
    fields: dict[str, str] | None = None,
    now: datetime | None = None,
) -> CustomerMerge:
    now = now or timezone.now()
    if survivor_id == other_id:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("A customer cannot be merged into itself."),
            errors={"other": ["same customer"]},
        )
    _lock_pending_requests(other_id)
    found = locked_pair(survivor_id, other_id)
    survivor, other = _live(found, survivor_id), _live(found, other_id)
    viewer = Viewer(actor)
    require_manager_of(viewer, survivor)
    require_manager_of(viewer, other)
    values = {**chosen_values(survivor, other, fields or {}), **later_clocks(survivor, other)}
    before = snapshot(survivor, (*MERGEABLE_FIELDS, *CLOCK_FIELDS))
    absorbed_state = ownership_snapshot(other)
    moved = move_related(survivor, other)
    save_survivor(survivor, values)
    retire(other, survivor, actor=actor, now=now)
    mark_survivor(survivor, other, actor=actor, now=now)
    return CustomerMerge.objects.create(
        survivor=survivor,
        absorbed=other,
        merged_by=actor,
        merged_at=now,
        undo_until=now + timedelta(days=undo_days()),
        survivor_before=before,
        survivor_after=snapshot(survivor, (*MERGEABLE_FIELDS, *CLOCK_FIELDS)),
        absorbed_state=absorbed_state,
        moved=moved,
    )


@transaction.atomic
def merge_values(actor: User, survivor_id: int, values: dict[str, Any]) -> Customer:
    """An imported row merged into the customer it duplicates: step 3 with the row as the
    other side (the survivor's values win, its empty fields take the row's, tags united), by
    a manager of the survivor or an admin. Nothing is absorbed, so ownership and the ledger
    stay as they are."""
    survivor = _live(locked_pair(survivor_id, survivor_id), survivor_id)
    require_manager_of(Viewer(actor), survivor)
    other = Customer(**{name: v for name, v in values.items() if name in MERGEABLE_FIELDS})
    save_survivor(survivor, chosen_values(survivor, other, {}))
    return survivor
