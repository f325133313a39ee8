"""Writing and reading the ownership ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind, LedgerEvent, OwnershipState, Status
from highseas.pools.models import OwnershipEvent


def state_of(customer: Customer) -> OwnershipState:
    return OwnershipState(Status(customer.status), customer.owner_id, customer.pool_id)


def record_event(
    customer: Customer,
    kind: EventKind,
    before: OwnershipState | None,
    after: OwnershipState,
    *,
    actor: User | None,
    reason: str,
    at: datetime,
    actor_label: str = "",
    policy_ref: str = "",
    related_customer: Customer | None = None,
) -> OwnershipEvent:
    """Append one ledger row; call it inside the transaction that made the change.
    ``related_customer`` names the other side of a merge."""
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
        actor_label=actor_label or (actor.username if actor else "system"),
        reason=reason,
        policy_ref=policy_ref,
        related_customer=related_customer,
        at=at,
    )


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
