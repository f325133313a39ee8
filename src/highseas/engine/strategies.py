"""How a team target picks one of its eligible reps (SPEC §7).

Every strategy scores the eligible reps (higher is better) and takes the best; reps tied for
the best are separated by the run's seeded ``random.Random``, never by id or seniority.

- ``round_robin``: the next rep after the persisted pointer (the last rep given a customer)
  in the team's rotation (ascending user id), skipping the ineligible. A fresh pointer starts
  at a seeded-random rep. Over N customers and k eligible reps each gets ⌊N/k⌋ or ⌈N/k⌉.
- ``weighted``: smooth weighted round-robin (nginx's): every pick adds each eligible rep's
  weight to their credit, takes the rep with the most credit, and takes the eligible total off
  theirs. Credits persist with the pointer, so ratios such as 2:1 hold across runs of any
  size, each rep within one customer of their share while the eligible set stays the same.
- ``least_loaded``: fewest open holdings (owned or frozen, not won), counting this plan's.
- ``capacity``: the largest share of today's quota still free, so reps fill in proportion to
  their quotas; assignments are counted per calendar day, not per run.
- ``performance``: win rate over the window divided by (customers given today + 1), the
  D'Hondt rule: over a day, reps receive customers in proportion to their win rates.
- ``skill``: the most matches between the rep's skills and the customer (industry; region as
  province or city; product line as the custom field ``product_line`` or a tag), then the
  fewest open holdings.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from highseas.engine.conditions import Fields, value_of
from highseas.engine.routing import Candidate, Load, Skills
from highseas.engine.targets import Strategy

Score = tuple[float, ...]
CursorState = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Choice:
    rep_id: int
    scores: dict[int, Score] = field(default_factory=dict)
    tied: tuple[int, ...] = ()  # the reps tied for the best score, when more than one
    matched: dict[int, list[str]] = field(default_factory=dict)  # skill: dimensions matched


@dataclass(frozen=True, slots=True)
class Context:
    """What a strategy may look at besides the reps and the customer."""

    loads: Mapping[int, Load]
    capacities: Mapping[int, int | None]
    weights: Mapping[int, int]
    rng: random.Random


def best(scores: dict[int, Score], rng: random.Random) -> tuple[int, tuple[int, ...]]:
    """The best-scored rep, and the tie when several share the best score."""
    top = max(scores.values())
    tied = [rep for rep, score in scores.items() if score == top]
    if len(tied) == 1:
        return tied[0], ()
    tied.sort()  # the draw depends on the seed and the tied set only, not on input order
    return rng.choice(tied), tuple(tied)


def round_robin(
    eligible: Sequence[Candidate],
    cursor: CursorState,
    rng: random.Random,
    ids: Sequence[int] | None = None,
) -> Choice:
    """``ids``: the eligible reps' ids ascending, when the caller has them already."""
    if ids is None:
        ids = sorted(c.rep_id for c in eligible)
    last = cursor.get("last")
    tied: tuple[int, ...] = ()
    if isinstance(last, int):
        after = bisect_right(ids, last)  # the first rep past the pointer, else the first
        chosen = ids[after] if after < len(ids) else ids[0]
    else:
        chosen = rng.choice(ids)
        tied = tuple(ids) if len(ids) > 1 else ()
    cursor["last"] = chosen
    return Choice(chosen, tied=tied)


def weighted(eligible: Sequence[Candidate], cursor: CursorState, context: Context) -> Choice:
    credit: dict[str, int] = cursor.setdefault("credit", {})
    total = 0
    for candidate in eligible:
        weight = context.weights[candidate.rep_id]
        credit[str(candidate.rep_id)] = credit.get(str(candidate.rep_id), 0) + weight
        total += weight
    scores: dict[int, Score] = {c.rep_id: (float(credit[str(c.rep_id)]),) for c in eligible}
    chosen, tied = best(scores, context.rng)
    credit[str(chosen)] -= total
    return Choice(chosen, scores, tied)


def _scored(scores: dict[int, Score], context: Context) -> Choice:
    chosen, tied = best(scores, context.rng)
    return Choice(chosen, scores, tied)


def least_loaded(eligible: Sequence[Candidate], context: Context) -> Choice:
    return _scored(
        {c.rep_id: (-float(context.loads[c.rep_id].holdings),) for c in eligible}, context
    )


def capacity(eligible: Sequence[Candidate], context: Context) -> Choice:
    scores: dict[int, Score] = {}
    for candidate in eligible:
        quota = context.capacities.get(candidate.rep_id)
        used = context.loads[candidate.rep_id].assigned_today
        scores[candidate.rep_id] = ((quota - used) / quota if quota else 1.0,)
    return _scored(scores, context)


def performance(eligible: Sequence[Candidate], context: Context) -> Choice:
    return _scored(
        {c.rep_id: (c.win_rate / (context.loads[c.rep_id].assigned_today + 1),) for c in eligible},
        context,
    )


def _texts(*values: object) -> frozenset[str]:
    return frozenset(v for v in values if isinstance(v, str) and v)


def customer_skills(customer: Fields) -> Skills:
    """What the customer asks of a rep, in the shape of a rep's skills."""
    tags = value_of(customer, "tags")
    return Skills(
        industries=_texts(value_of(customer, "industry")),
        regions=_texts(value_of(customer, "province"), value_of(customer, "city")),
        product_lines=_texts(
            value_of(customer, "custom.product_line"), *(tags if isinstance(tags, list) else ())
        ),
    )


def skill_matches(candidate: Candidate, wanted: Skills) -> list[str]:
    """The dimensions on which the rep's skills meet what the customer asks."""
    skills, found = candidate.skills, []
    if skills.industries & wanted.industries:
        found.append("industry")
    if skills.regions & wanted.regions:
        found.append("region")
    if skills.product_lines & wanted.product_lines:
        found.append("product_line")
    return found


def skill(eligible: Sequence[Candidate], context: Context, customer: Fields) -> Choice:
    wanted = customer_skills(customer)
    matched = {c.rep_id: skill_matches(c, wanted) for c in eligible}
    scores: dict[int, Score] = {
        c.rep_id: (float(len(matched[c.rep_id])), -float(context.loads[c.rep_id].holdings))
        for c in eligible
    }
    chosen, tied = best(scores, context.rng)
    return Choice(chosen, scores, tied, matched)


def choose(
    strategy: Strategy,
    eligible: Sequence[Candidate],
    cursor: CursorState,
    context: Context,
    customer: Fields,
    ids: Sequence[int] | None = None,
) -> Choice:
    """One rep out of the (non-empty) eligible ones; ``cursor`` is the rule and team's
    persisted state, updated in place; ``ids``, when given, the eligible reps' ids ascending."""
    if strategy is Strategy.ROUND_ROBIN:
        return round_robin(eligible, cursor, context.rng, ids)
    if strategy is Strategy.WEIGHTED:
        return weighted(eligible, cursor, context)
    if strategy is Strategy.LEAST_LOADED:
        return least_loaded(eligible, context)
    if strategy is Strategy.CAPACITY:
        return capacity(eligible, context)
    if strategy is Strategy.PERFORMANCE:
        return performance(eligible, context)
    if strategy is Strategy.SKILL:
        return skill(eligible, context, customer)
    raise ValueError(f"strategy {strategy.value} cannot be planned")
