"""Writing and reading the ownership ledger: the one place ledger rows are built.

``record_event`` appends one row (through the ORM); ``record_events`` appends many in one
statement (``pools.rows``), for the set-based paths — assignment runs and the sweep. Both fill
the same columns by the same rules: an event done by a person names them as ``actor`` and their
username as ``actor_label``; an event done by the system (a rule, the sweep) has no ``actor``
and says which rule acted in ``actor_label`` (``system:rule:<id>``, ``system:idle_limit``).
A ``reason`` the system gives is a ``pools.reasons.Reason`` (a code and its parameters, read in
the reader's language); a plain ``str`` is a person's own words, kept as typed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind, LedgerEvent, OwnershipState, Status
from highseas.pools.models import OwnershipEvent
from highseas.pools.reasons import Reason, columns
from highseas.pools.rows import db_datetime, db_json, insert_rows


def state_of(customer: Customer) -> OwnershipState:
    return OwnershipState(Status(customer.status), customer.owner_id, customer.pool_id)


def record_event(
    customer: Customer,
    kind: EventKind,
    before: OwnershipState | None,
    after: OwnershipState,
    *,
    actor: User | None,
    reason: Reason | str,
    at: datetime,
    actor_label: str = "",
    policy_ref: str = "",
    related_customer: Customer | None = None,
) -> OwnershipEvent:
    """Append one ledger row; call it inside the transaction that made the change.
    ``related_customer`` names the other side of a merge."""
    text, code, params = columns(reason)
    return OwnershipEvent.objects.create(
        customer=customer,
        kind=kind.value,
        from_status=before.status.value if before else "",
        from_owner_id=before.owner_id if before else None,
        from_pool_id=before.pool_id if before else None,
        to_status=after.status.value,
        to_owner_id=after.owner_id,
        to_pool_id=after.pool_id,
        actor=actor,
        actor_label=label_of(actor.username if actor else None, actor_label),
        reason=text,
        reason_code=code,
        reason_params=params,
        policy_ref=policy_ref,
        related_customer=related_customer,
        at=at,
    )


def label_of(username: str | None, actor_label: str) -> str:
    """What ``actor_label`` says: the system rule that acted, else the person's username."""
    return actor_label or username or "system"


@dataclass(slots=True)
class Entry:
    """One ledger row of a set-based change, as ``record_events`` writes it."""

    customer_id: int
    kind: EventKind
    before: OwnershipState | None
    after: OwnershipState
    reason: Reason | str
    actor_id: int | None = None
    actor_label: str = ""
    policy_ref: str = ""


ENTRY_FIELDS = (
    *("customer", "kind", "from_status", "from_owner", "from_pool"),
    *("to_status", "to_owner", "to_pool", "actor", "actor_label", "reason"),
    *("reason_code", "reason_params", "policy_ref", "at"),
)


def record_events(entries: Sequence[Entry], *, at: datetime) -> None:
    """Append many ledger rows at ``at`` in one statement (per thousand rows); call it inside
    the transaction that made the changes. Every row names who acted: a user (``actor_id``
    and their username) or the system rule (``system:…``).

    A set-based change shares a handful of states, kinds and reasons among its rows (the same
    objects, row after row): each one's columns are worked out once, by the object's identity
    (the entries keep them alive, so no identity is reused meanwhile), then by its value."""
    entries = list(entries)  # held for the whole loop: the identities below stay unique
    when = db_datetime(at)
    rows = []
    coded: dict[object, tuple[str, str, object]] = {}  # a run's rows share a few reasons
    reasons: dict[int, tuple[str, str, object]] = {}  # the same, by the reason's identity
    states: dict[int, tuple[str, int | None, int | None]] = {}  # a state's columns, likewise
    for e in entries:
        before, after = e.before, e.after
        if not e.actor_label or (e.actor_id is None and not e.actor_label.startswith("system:")):
            raise ValueError(f"ledger row for customer {e.customer_id} names no actor")
        was = _state_columns(before, states) if before else ("", None, None)
        reason = reasons.get(id(e.reason))
        if reason is None:
            key = _key(e.reason)
            if key not in coded:
                coded[key] = reason_values(e.reason)
            reason = reasons[id(e.reason)] = coded[key]
        rows.append(
            (
                *(e.customer_id, e.kind.value, *was),
                *_state_columns(after, states),
                *(e.actor_id, e.actor_label, *reason, e.policy_ref, when),
            )
        )
    insert_rows(OwnershipEvent, ENTRY_FIELDS, rows)


def _state_columns(
    state: OwnershipState, known: dict[int, tuple[str, int | None, int | None]]
) -> tuple[str, int | None, int | None]:
    """A state's ``status``, ``owner`` and ``pool`` columns, remembered by its identity."""
    found = known.get(id(state))
    if found is None:
        found = known[id(state)] = (state.status.value, state.owner_id, state.pool_id)
    return found


def reason_values(reason: Reason | str) -> tuple[str, str, object]:
    """The ``reason``, ``reason_code`` and ``reason_params`` values of a ledger row written in
    SQL (here, and by the claim's fast path)."""
    text, code, params = columns(reason)
    return text, code, None if params is None else db_json(params)


def _key(reason: Reason | str) -> object:
    if isinstance(reason, str):
        return reason
    return (reason.code, *sorted(reason.params.items()))


_ROW = tuple[int, int, str, str, int | None, int | None, str, int | None, int | None]


def as_ledger_event(row: _ROW) -> LedgerEvent:
    """Map a ledger row ``(id, customer, kind, from_status, from_owner, from_pool,
    to_status, to_owner, to_pool)`` to the engine's plain form."""
    event_id, _customer, kind, from_status, from_owner, from_pool, to_status, to_owner, to_pool = (
        row
    )
    before = OwnershipState(Status(from_status), from_owner, from_pool) if from_status else None
    return LedgerEvent(
        event_id, EventKind(kind), before, OwnershipState(Status(to_status), to_owner, to_pool)
    )


LEDGER_COLUMNS = (
    "id",
    "customer_id",
    "kind",
    "from_status",
    "from_owner_id",
    "from_pool_id",
    "to_status",
    "to_owner_id",
    "to_pool_id",
)


def iter_ledger_rows(chunk_size: int = 20_000) -> Iterator[_ROW]:
    """Every ledger row ordered by customer, then sequence; streamed in chunks."""
    rows = (
        OwnershipEvent.objects.order_by("customer_id", "id")
        .values_list(*LEDGER_COLUMNS)
        .iterator(chunk_size=chunk_size)
    )
    yield from rows
