"""The ledger replays to the current state, and every break in the chain is caught."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.ownership import (
    EventKind,
    LedgerBreak,
    LedgerEvent,
    OwnershipState,
    Status,
    is_transition_allowed,
    replay,
)

REPS = [1, 2, 3]
POOLS = [10, 20]


def _next_state(kind: EventKind, state: OwnershipState, rep: int, pool: int) -> OwnershipState:
    if kind in (EventKind.CLAIMED, EventKind.ASSIGNED, EventKind.TRANSFERRED):
        return OwnershipState(Status.OWNED, rep, state.pool_id)
    if kind in (EventKind.RELEASED, EventKind.RECYCLED):
        return OwnershipState(Status.POOLED, None, pool)
    if kind is EventKind.FROZEN:
        return OwnershipState(Status.FROZEN, state.owner_id, state.pool_id)
    return OwnershipState(Status.OWNED, state.owner_id, state.pool_id)


@st.composite
def ledgers(draw: st.DrawFn) -> list[LedgerEvent]:
    """A random valid history: start with `created`, then only allowed transitions."""
    owner = draw(st.sampled_from([None, *REPS]))
    pool = draw(st.sampled_from(POOLS))
    first = OwnershipState(Status.OWNED if owner else Status.POOLED, owner, pool)
    events = [LedgerEvent(1, EventKind.CREATED, None, first)]
    state = first
    kinds = [k for k in EventKind if k not in (EventKind.CREATED, EventKind.MERGED)]
    for event_id in range(2, draw(st.integers(1, 25)) + 2):
        allowed = [
            k
            for k in kinds
            if is_transition_allowed(k, state.status, _next_state(k, state, 1, POOLS[0]).status)
        ]
        kind = draw(st.sampled_from(allowed))
        after = _next_state(kind, state, draw(st.sampled_from(REPS)), draw(st.sampled_from(POOLS)))
        events.append(LedgerEvent(event_id, kind, state, after))
        state = after
    return events


@given(ledgers())
def test_replay_reproduces_the_last_state(events: list[LedgerEvent]) -> None:
    assert replay(events) == events[-1].after


@given(ledgers(), st.data())
def test_a_broken_chain_is_detected(events: list[LedgerEvent], data: st.DataObject) -> None:
    if len(events) < 2:
        return
    index = data.draw(st.integers(1, len(events) - 1))
    bogus = OwnershipState(Status.OWNED, 999, None)
    events[index] = dataclasses.replace(events[index], before=bogus)
    with pytest.raises(LedgerBreak):
        replay(events)


def test_an_empty_ledger_does_not_replay() -> None:
    with pytest.raises(LedgerBreak, match="created"):
        replay([])


def test_a_ledger_must_start_with_created() -> None:
    state = OwnershipState(Status.OWNED, 1, 10)
    with pytest.raises(LedgerBreak, match="created"):
        replay([LedgerEvent(1, EventKind.CLAIMED, None, state)])


def test_claiming_an_owned_customer_is_not_a_transition() -> None:
    owned = OwnershipState(Status.OWNED, 1, 10)
    events = [
        LedgerEvent(1, EventKind.CREATED, None, owned),
        LedgerEvent(2, EventKind.CLAIMED, owned, OwnershipState(Status.OWNED, 2, 10)),
    ]
    with pytest.raises(LedgerBreak, match="cannot go from owned"):
        replay(events)


def test_a_pooled_state_with_an_owner_is_inconsistent() -> None:
    bad = OwnershipState(Status.POOLED, 1, 10)
    with pytest.raises(LedgerBreak, match="inconsistent"):
        replay([LedgerEvent(1, EventKind.CREATED, None, bad)])


def test_recycling_a_frozen_customer_is_not_a_transition() -> None:
    assert not is_transition_allowed(EventKind.RECYCLED, Status.FROZEN, Status.POOLED)
    assert is_transition_allowed(EventKind.RECYCLED, Status.OWNED, Status.POOLED)
