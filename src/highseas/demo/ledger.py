"""A customer's ownership ledger as the story writes it: each event starts where the previous
one ended, so the ledger replays (``highseas.engine.ownership.replay``) to the final state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from highseas.demo.world import Actor
from highseas.pools import reasons
from highseas.pools.reasons import Reason


class EventRecord(NamedTuple):
    kind: str
    from_status: str
    to_status: str
    from_owner_id: int | None
    to_owner_id: int | None
    actor_id: int | None
    actor_label: str
    reason: str
    reason_code: str
    reason_params: dict[str, object] | None
    policy_ref: str
    at: int


@dataclass(slots=True)
class LedgerWriter:
    events: list[EventRecord] = field(default_factory=list)
    status: str = ""
    owner_id: int | None = None
    previous_owner_id: int | None = None

    def record(
        self,
        kind: str,
        to_status: str,
        to_owner_id: int | None,
        actor: Actor,
        reason: Reason | str,
        at: int,
        policy_ref: str = "",
    ) -> int:
        """Append one event (a system ``Reason`` is stored as its code, as ``pools.ledger`` does;
        a ``str`` is a person's words); returns its time, moved one second past the previous event's
        when needed to keep times strictly increasing."""
        if self.events and at <= self.events[-1].at:
            at = self.events[-1].at + 1
        if self.owner_id is not None and to_owner_id != self.owner_id:
            self.previous_owner_id = self.owner_id
        event = EventRecord(
            kind,
            self.status,
            to_status,
            self.owner_id,
            to_owner_id,
            actor.user_id,
            actor.label,
            *reasons.columns(reason),
            policy_ref,
            at,
        )
        self.events.append(event)
        self.status, self.owner_id = to_status, to_owner_id
        return at
