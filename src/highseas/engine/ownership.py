"""Ownership states, ledger event kinds, and the state machine that connects them.

A customer is in exactly one of three states:

1. ``pooled``: in exactly one pool, no owner;
2. ``owned``: exactly one owner;
3. ``frozen``: owned and protected from recycling until ``frozen_until``.

Every ledger event records the state it left and the state it produced. Replaying a
customer's events therefore reproduces its current state, and a break in the chain (an
event whose *from* side differs from the previous event's *to* side) is a defect.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    POOLED = "pooled"
    OWNED = "owned"
    FROZEN = "frozen"


class EventKind(StrEnum):
    CREATED = "created"
    CLAIMED = "claimed"
    ASSIGNED = "assigned"
    TRANSFERRED = "transferred"
    RELEASED = "released"
    RECYCLED = "recycled"
    FROZEN = "frozen"
    UNFROZEN = "unfrozen"
    MERGED = "merged"


@dataclass(frozen=True, slots=True)
class OwnershipState:
    status: Status
    owner_id: int | None
    pool_id: int | None

    def is_consistent(self) -> bool:
        """Pooled XOR exactly one owner; a pooled customer sits in a pool."""
        if self.status is Status.POOLED:
            return self.owner_id is None and self.pool_id is not None
        return self.owner_id is not None


# From which states each kind may start, and which state it must produce.
_ALLOWED: dict[EventKind, tuple[frozenset[Status | None], frozenset[Status]]] = {
    EventKind.CREATED: (frozenset({None}), frozenset({Status.POOLED, Status.OWNED})),
    EventKind.CLAIMED: (frozenset({Status.POOLED}), frozenset({Status.OWNED})),
    EventKind.ASSIGNED: (frozenset({Status.POOLED, Status.OWNED}), frozenset({Status.OWNED})),
    EventKind.TRANSFERRED: (frozenset({Status.OWNED, Status.FROZEN}), frozenset({Status.OWNED})),
    EventKind.RELEASED: (frozenset({Status.OWNED, Status.FROZEN}), frozenset({Status.POOLED})),
    EventKind.RECYCLED: (frozenset({Status.OWNED}), frozenset({Status.POOLED})),
    EventKind.FROZEN: (frozenset({Status.OWNED}), frozenset({Status.FROZEN})),
    EventKind.UNFROZEN: (frozenset({Status.FROZEN}), frozenset({Status.OWNED})),
    EventKind.MERGED: (
        frozenset({Status.POOLED, Status.OWNED, Status.FROZEN}),
        frozenset({Status.POOLED, Status.OWNED, Status.FROZEN}),
    ),
}


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One ledger row as plain data: the state before and after."""

    event_id: int
    kind: EventKind
    before: OwnershipState | None
    after: OwnershipState


class LedgerBreak(ValueError):
    """The ledger of one customer does not replay."""


def is_transition_allowed(kind: EventKind, before: Status | None, after: Status) -> bool:
    starts, ends = _ALLOWED[kind]
    return before in starts and after in ends


def replay(events: list[LedgerEvent]) -> OwnershipState:
    """Fold one customer's events (oldest first) into its current state.

    Raises ``LedgerBreak`` when:
    1. there are no events, or the first one is not ``created``;
    2. an event's *before* differs from the previous event's *after*;
    3. a transition is not allowed by the state machine;
    4. a produced state is inconsistent (pooled with an owner, owned with none).
    """
    if not events or events[0].kind is not EventKind.CREATED:
        raise LedgerBreak("the ledger does not start with a 'created' event")
    state: OwnershipState | None = None
    for event in events:
        if event.before != state:
            raise LedgerBreak(f"event {event.event_id} starts from {event.before}, not {state}")
        before_status = state.status if state else None
        if not is_transition_allowed(event.kind, before_status, event.after.status):
            raise LedgerBreak(
                f"event {event.event_id}: {event.kind} cannot go from "
                f"{before_status} to {event.after.status}"
            )
        if not event.after.is_consistent():
            raise LedgerBreak(f"event {event.event_id} produces an inconsistent state")
        state = event.after
    assert state is not None
    return state
