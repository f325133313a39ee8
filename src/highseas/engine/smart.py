"""The ``smart`` strategy's plan for one rule and team (SPEC §9): score every queued customer
against every eligible rep with the organization's win model, match them under the reps'
caps, quotas and the fairness bound (``matching``), and explain each decision.

The planner queues the customers a smart rule matched and settles them when the batch is
read (``settle``), so a backlog run, an import or a single registration all go through the
same matching; a batch of one is the fast single decision.

Without a usable model (none trained, or too little history) the strategy falls back to
``performance`` and says so in every explanation: ``{"fallback": {"strategy":
"performance", "reason": …}}``.

An assigned customer's explanation gains ``"smart"``::

    {"model": version, "p": P(win) of the chosen rep, "team_median": median over the eligible,
     "record": the rep's record behind it (the scorer's words) | null,
     "capacity": {"given_today", "quota", "holdings", "cap"},
     "fairness": {"most", "even", "above_mean"},
     "next_best": {"rep", "p", "why": "capacity" | "fairness" | "lower" | "placed_elsewhere"}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from highseas.engine.conditions import Fields
from highseas.engine.matching import Matrix, Room
from highseas.engine.routing import Candidate, Load


class WinScorer(Protocol):
    """P(win | rep, customer) from a trained model (``highseas.smart``)."""

    @property
    def version(self) -> int: ...

    def probabilities(self, customers: Sequence[Fields], reps: Sequence[Candidate]) -> Matrix:
        """One row per customer, one column per rep."""
        ...

    def record(self, customer: Fields, rep: Candidate) -> dict[str, Any] | None:
        """The rep's record with customers like this one (counts and the segment)."""
        ...


@dataclass(frozen=True, slots=True)
class Fallback:
    """Why no model can be used: ``no_model`` or ``thin_data``."""

    reason: str
    version: int | None = None


Scoring = WinScorer | Fallback


def room(candidate: Candidate, load: Load, capacity: int | None, most: int) -> Room:
    """What the caps and quotas still let ``candidate`` take (at most ``most``)."""
    limit = most
    if candidate.holding_cap is not None:
        # every customer counts toward the cap here, won or not: never past it
        limit = min(limit, candidate.holding_cap - load.counted_holdings(candidate))
    if capacity is not None:
        limit = min(limit, capacity - load.assigned_today)
    return Room(max(0, limit), load.assigned_today)


def why_not(rep: int, p_next: float, p_chosen: float, full: Mapping[int, str | None]) -> str:
    """Why the next best rep did not get the customer: they were full (by their cap or
    quota, or by the fairness bound), or their probability was lower, or their room went to
    customers where they made a bigger difference."""
    if p_next <= p_chosen:
        return "lower"
    return full.get(rep) or "placed_elsewhere"


def fullness(rooms: Sequence[Room], slots: Sequence[int], used: Sequence[int]) -> list[str | None]:
    """For each rep, what stopped them taking more: ``capacity``, ``fairness`` or nothing."""
    found: list[str | None] = []
    for rep_room, rep_slots, taken in zip(rooms, slots, used, strict=True):
        if taken < rep_slots:
            found.append(None)
        else:
            found.append("capacity" if rep_room.limit <= rep_slots else "fairness")
    return found


def facts(
    matrix: Matrix,
    placed: Sequence[int],
    eligible: Sequence[Candidate],
    full: Mapping[int, str | None],
) -> list[dict[str, Any] | None]:
    """For each placed customer, the probabilities behind the decision: the chosen rep's, the
    team median, and the next best rep with why they were not chosen (``None`` unplaced)."""
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :2].tolist()
    medians = np.median(matrix, axis=1).round(4).tolist()
    rounded = matrix.round(4).tolist()
    found: list[dict[str, Any] | None] = []
    for row, chosen in enumerate(placed):
        if chosen < 0:
            found.append(None)
            continue
        p_chosen = rounded[row][chosen]
        item: dict[str, Any] = {"p": p_chosen, "team_median": medians[row]}
        best = next((i for i in order[row] if i != chosen), None)
        if best is not None:
            rep = eligible[best].rep_id
            p_next = rounded[row][best]
            item["next_best"] = {
                "rep": rep,
                "p": p_next,
                "why": why_not(rep, p_next, p_chosen, full),
            }
        found.append(item)
    return found
