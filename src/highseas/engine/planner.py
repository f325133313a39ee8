"""The batch planner: ordered rules, first match wins, strategies over eligible reps, and an
explanation for every decision (SPEC §7).

For each customer, in the order given:

1. the rules that apply to its pool (their own, and those for any pool) are tried by
   ``(position, id)``; the first whose conditions match decides, and the ones before it are
   listed as not matched; with no match the customer stays pooled (``no_rule_matched``);
2. a pool target keeps the customer in its pool (``kept_in_pool``);
3. a user target gives it to that rep if they are eligible, else leaves it pooled with the
   rep's rejection as the reason;
4. a team target checks every rep of the team, in the team's order, and lets the strategy
   choose among the eligible; with nobody eligible it stays pooled (``nobody_eligible``);
5. the chosen rep's load grows at once, so a later customer of the same plan sees it: a plan
   never takes a rep past their holding cap or daily quota;
6. a team target with the ``smart`` strategy queues its customers instead; once every customer
   of the call is read, each smart rule's queue is matched at once (``engine.smart``) from
   the loads as they then stand, in rule order, and its decisions take their places in the
   plan. A plan planned in batches therefore matches batch by batch.

A customer may carry a ``hint``: the first rule whose database pre-filter it passed. The
pre-filter is a superset of the rule's conditions, so the rules before the hint cannot match;
they are listed as not matched without being tested. The hint saves work, never changes a
decision.

The state (loads, pointers and credits, the seeded random source) can be carried from one
call to the next, so a run planned in batches decides as if planned in one go.

An explanation is plain JSON::

    {"rule": {"id", "name"} | null, "not_matched": [rule ids], "target": {"kind", "id",
     "strategy"?}, "eligible": {rep: score | null}, "rejected": {rep: {"reason", "used"?,
     "limit"?}}, "matched": {rep: [skill dimensions]}, "tie_break": {"method":
     "seeded_random", "among": [reps], "chosen": rep}, "outcome", "reason", "owner"}
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from highseas.engine.conditions import Fields, Predicate, predicate
from highseas.engine.matching import UNPLACED, bound, match, slots
from highseas.engine.routing import (
    Candidate,
    Load,
    Rejection,
    Verdict,
    daily_capacity,
    eligibility,
)
from highseas.engine.smart import Fallback, Scoring, facts, fullness, room
from highseas.engine.strategies import Context, CursorState, choose
from highseas.engine.targets import PoolTarget, Strategy, Target, TeamTarget, UserTarget


class Outcome(StrEnum):
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    KEPT_IN_POOL = "kept_in_pool"
    NO_RULE = "no_rule"


NO_RULE_MATCHED = "no_rule_matched"
KEPT_IN_POOL = "kept_in_pool"
NOBODY_ELIGIBLE = "nobody_eligible"
EMPTY_TEAM = "empty_team"
UNKNOWN_USER = "unknown_user"
PENDING = "pending"  # a smart rule's customer, until its queue is matched
NO_MODEL = Fallback("no_model")


@dataclass(frozen=True, slots=True)
class RoutedCustomer:
    customer_id: int
    pool_id: int | None
    fields: Fields
    is_won: bool = False
    hint: int | None = None  # the first rule whose (superset) pre-filter it passed


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: int
    name: str
    conditions: Mapping[str, Any]
    target: Target
    pool_id: int | None = None  # None: the rule applies to every pool
    position: int = 0


@dataclass(slots=True)
class Decision:
    customer_id: int
    pool_id: int | None
    outcome: Outcome
    reason: str
    explanation: dict[str, Any]
    rule_id: int | None = None
    owner_id: int | None = None


@dataclass(slots=True)
class PlanState:
    """What a plan carries from one customer (and one call) to the next."""

    rng: random.Random
    loads: dict[int, Load] = field(default_factory=dict)
    cursors: dict[tuple[int, int], CursorState] = field(default_factory=dict)
    touched: set[tuple[int, int]] = field(default_factory=set)

    @classmethod
    def fresh(cls, seed: int) -> PlanState:
        return cls(random.Random(seed))

    def load(self, candidate: Candidate) -> Load:
        found = self.loads.get(candidate.rep_id)
        if found is None:
            found = self.loads[candidate.rep_id] = Load.of(candidate)
        return found

    def reload(self, candidates: Iterable[Candidate]) -> None:
        """Take the loads afresh from new snapshots (a real run re-reads them per batch)."""
        for candidate in candidates:
            self.loads[candidate.rep_id] = Load.of(candidate)


@dataclass
class Plan:
    decisions: list[Decision]
    state: PlanState

    @property
    def assigned(self) -> list[Decision]:
        return [d for d in self.decisions if d.outcome is Outcome.ASSIGNED]

    @property
    def unassigned(self) -> list[Decision]:
        return [d for d in self.decisions if d.outcome is not Outcome.ASSIGNED]


def describe_target(target: Target) -> dict[str, Any]:
    if isinstance(target, UserTarget):
        return {"kind": "user", "id": target.user_id}
    if isinstance(target, PoolTarget):
        return {"kind": "pool", "id": target.pool_id}
    return {"kind": "team", "id": target.team_id, "strategy": target.strategy.value}


def _rejection(verdict: Verdict) -> dict[str, Any]:
    if verdict.limit is None:
        return {"reason": verdict.reason.value}
    return {"reason": verdict.reason.value, "used": verdict.used, "limit": verdict.limit}


class _Route:
    """A rule prepared once per plan: its test, its reps with their quotas and weights."""

    def __init__(
        self,
        rule: Rule,
        candidates_by_team: Mapping[int, Sequence[Candidate]],
        users: Mapping[int, Candidate],
        state: PlanState,
    ) -> None:
        self.rule = rule
        self.test: Predicate = predicate(rule.conditions)
        self.target = describe_target(rule.target)
        target = rule.target
        self.strategy = target.strategy if isinstance(target, TeamTarget) else None
        self.members: tuple[Candidate, ...] = ()
        if isinstance(target, UserTarget) and target.user_id in users:
            self.members = (users[target.user_id],)
        elif isinstance(target, TeamTarget):
            self.members = tuple(candidates_by_team.get(target.team_id, ()))
        self.capacities = {
            c.rep_id: daily_capacity(c, _quota(target, c.rep_id)) for c in self.members
        }
        self.weights = {
            c.rep_id: target.weights.get(c.rep_id, c.weight)
            if isinstance(target, TeamTarget)
            else c.weight
            for c in self.members
        }
        for candidate in self.members:
            state.load(candidate)
        self.keys = {c.rep_id: str(c.rep_id) for c in self.members}  # JSON keys
        # each rep with what ``sort_out`` tests: active and not on leave, the cap, what it counts
        self.checks = [
            (
                *(c, self.keys[c.rep_id], self.capacities[c.rep_id], self.weights[c.rep_id]),
                c.is_active and not c.on_leave,
                *(c.holding_cap, c.count_won_in_cap),
            )
            for c in self.members
        ]
        self.context = Context(state.loads, self.capacities, self.weights, state.rng)
        self.cursor_key = (rule.rule_id, target.team_id) if isinstance(target, TeamTarget) else None
        self.above_mean = target.above_mean if isinstance(target, TeamTarget) else 0.0
        self.queue: list[tuple[int, RoutedCustomer, dict[str, Any]]] = []
        self.last_named: tuple[list[Candidate], dict[str, None]] | None = None
        # what ``_Planner.sort_out`` last found, kept up to date from the reps given customers
        # since: each member's rejection (None: eligible), the eligible in the team's order,
        # their ids ascending, and the rejections by JSON key
        self.places: dict[int, list[int]] = {}
        for place, candidate in enumerate(self.members):
            self.places.setdefault(candidate.rep_id, []).append(place)
        self.sorted_at = -1  # the length of the planner's ``given`` when last sorted out
        self.verdicts: list[dict[str, Any] | None] = []
        self.eligible: list[Candidate] = []
        self.eligible_ids: list[int] = []
        self.rejected: dict[str, dict[str, Any]] = {}

    def named(self, eligible: list[Candidate]) -> dict[str, None]:
        """The unscored eligible reps as an explanation names them. Decisions in a row that
        saw the same reps share one dict (nothing changes an explanation's ``eligible`` once
        it is made), so a writer can store it once for all of them
        (``AssignmentRun.eligible_sets``)."""
        last = self.last_named
        if last is None or (last[0] is not eligible and last[0] != eligible):
            last = self.last_named = (
                eligible,
                dict.fromkeys(self.keys[c.rep_id] for c in eligible),
            )
        return last[1]


def _rounded(score: float) -> float:
    """``round(score, 4)``: a whole float is that already, and is answered without the decimal
    conversion ``round`` makes (about 1 µs a score, and most scores are whole: a skill's
    matches, a count)."""
    if type(score) is float and score.is_integer():
        return score
    return round(score, 4)


def _quota(target: Target, rep_id: int) -> int | None:
    if isinstance(target, TeamTarget):
        return target.quota_for(rep_id)
    return target.daily_quota if isinstance(target, UserTarget) else None


class _Planner:
    def __init__(
        self,
        rules: Sequence[Rule],
        candidates_by_team: Mapping[int, Sequence[Candidate]],
        users: Mapping[int, Candidate],
        state: PlanState,
        scoring: Scoring,
    ) -> None:
        ordered = sorted(rules, key=lambda r: (r.position, r.rule_id))
        self.routes = [_Route(rule, candidates_by_team, users, state) for rule in ordered]
        self.by_pool: dict[int | None, tuple[list[_Route], dict[int, int]]] = {}
        self.state = state
        self.scoring = scoring
        self.position = 0  # the place in the plan of the customer being decided
        self.given: list[int] = []  # the rep of every customer given so far, in order

    def routes_for(self, pool_id: int | None) -> tuple[list[_Route], dict[int, int]]:
        """The rules of a pool in order, and each one's place in that order."""
        if pool_id not in self.by_pool:
            routes = [r for r in self.routes if r.rule.pool_id in (None, pool_id)]
            self.by_pool[pool_id] = (routes, {r.rule.rule_id: i for i, r in enumerate(routes)})
        return self.by_pool[pool_id]

    def decide(self, customer: RoutedCustomer) -> Decision:
        routes, places = self.routes_for(customer.pool_id)
        start = places.get(customer.hint, 0) if customer.hint is not None else 0
        not_matched = [route.rule.rule_id for route in routes[:start]]
        for route in routes[start:]:
            if route.test(customer.fields):
                explanation: dict[str, Any] = {
                    "rule": {"id": route.rule.rule_id, "name": route.rule.name},
                    "not_matched": not_matched,
                    "target": dict(route.target),
                }
                return self.route(customer, route, explanation)
            not_matched.append(route.rule.rule_id)
        explanation = {"rule": None, "not_matched": not_matched}
        return _leave(customer, None, explanation, Outcome.NO_RULE, NO_RULE_MATCHED)

    def route(
        self, customer: RoutedCustomer, route: _Route, explanation: dict[str, Any]
    ) -> Decision:
        rule = route.rule
        if isinstance(rule.target, PoolTarget):
            return _leave(customer, rule, explanation, Outcome.KEPT_IN_POOL, KEPT_IN_POOL)
        if not route.members:
            reason = UNKNOWN_USER if isinstance(rule.target, UserTarget) else EMPTY_TEAM
            return _leave(customer, rule, explanation, Outcome.UNASSIGNED, reason)
        strategy = route.strategy
        if strategy is Strategy.SMART and not isinstance(self.scoring, Fallback):
            route.queue.append((self.position, customer, explanation))  # matched in settle()
            return Decision(
                customer.customer_id, customer.pool_id, Outcome.UNASSIGNED, PENDING, explanation
            )
        eligible, rejected = self.sort_out(route)
        if rejected:
            explanation["rejected"] = rejected
        if not eligible:
            reason = NOBODY_ELIGIBLE if route.strategy else next(iter(rejected.values()))["reason"]
            return _leave(customer, rule, explanation, Outcome.UNASSIGNED, reason)
        if strategy is None or route.cursor_key is None:
            explanation["eligible"] = {route.keys[eligible[0].rep_id]: None}
            return self.give(customer, rule, eligible[0], explanation)
        if strategy is Strategy.SMART and isinstance(self.scoring, Fallback):
            explanation["fallback"] = {
                "strategy": Strategy.PERFORMANCE.value,
                "reason": self.scoring.reason,
            }
            strategy = Strategy.PERFORMANCE
        cursor = self.state.cursors.setdefault(route.cursor_key, {})
        self.state.touched.add(route.cursor_key)
        choice = choose(
            strategy, eligible, cursor, route.context, customer.fields, route.eligible_ids
        )
        scores = choice.scores
        keys = route.keys
        explanation["eligible"] = (
            {keys[c.rep_id]: _rounded(scores[c.rep_id][0]) for c in eligible}
            if scores
            else route.named(eligible)
        )
        if choice.matched:
            explanation["matched"] = {str(rep): found for rep, found in choice.matched.items()}
        if choice.tied:
            explanation["tie_break"] = {
                "method": "seeded_random",
                "among": list(choice.tied),
                "chosen": choice.rep_id,
            }
        chosen = next(c for c in eligible if c.rep_id == choice.rep_id)
        return self.give(customer, rule, chosen, explanation)

    def sort_out(self, route: _Route) -> tuple[list[Candidate], dict[str, dict[str, Any]]]:
        """The eligible reps, and why each other rep was rejected.

        Only a customer given to a rep changes that rep's load, so after the first time a
        route's reps are sorted out only the reps given customers since are judged again.
        A change makes a new list and dict: one made earlier, which explanations and the
        strategies hold, never changes."""
        if route.sorted_at < 0:
            route.verdicts = [self.verdict(route, check) for check in route.checks]
            changed = True
        else:
            changed = False
            for rep_id in self.given[route.sorted_at :]:
                for place in route.places.get(rep_id, ()):
                    verdict = self.verdict(route, route.checks[place])
                    if verdict != route.verdicts[place]:
                        route.verdicts[place] = verdict
                        changed = True
        route.sorted_at = len(self.given)
        if changed:
            pairs = list(zip(route.checks, route.verdicts, strict=True))
            route.eligible = [check[0] for check, verdict in pairs if verdict is None]
            route.eligible_ids = sorted(c.rep_id for c in route.eligible)
            route.rejected = {check[1]: v for check, v in pairs if v is not None}
        return route.eligible, route.rejected

    def verdict(self, route: _Route, check: tuple[Any, ...]) -> dict[str, Any] | None:
        """Why one rep of the route may not take a customer now, or None when they may."""
        candidate, _, capacity, weight, available, cap, counts_won = check
        load = self.state.loads[candidate.rep_id]
        weighted = route.strategy is Strategy.WEIGHTED
        if (  # ``eligibility``'s tests inline, for the reps that pass them all (most)
            available
            and (cap is None or load.holdings + (load.won_holdings if counts_won else 0) < cap)
            and (capacity is None or load.assigned_today < capacity)
            and not (weighted and weight <= 0)
        ):
            return None
        found = eligibility(candidate, load, capacity)
        if found is None and weighted and weight <= 0:
            found = Verdict(Rejection.ZERO_WEIGHT)
        return None if found is None else _rejection(found)

    def settle(self, decisions: list[Decision]) -> None:
        """Match every smart rule's queue, in rule order, and put its decisions in place."""
        for route in self.routes:
            if route.queue:
                queue, route.queue = route.queue, []
                for position, decision in self.match(route, queue):
                    decisions[position] = decision

    def match(
        self, route: _Route, queue: list[tuple[int, RoutedCustomer, dict[str, Any]]]
    ) -> list[tuple[int, Decision]]:
        assert not isinstance(self.scoring, Fallback)
        rule = route.rule
        eligible, rejected = self.sort_out(route)
        if rejected:
            for _, _, explanation in queue:
                explanation["rejected"] = rejected
        if not eligible:
            return [
                (at, _leave(customer, rule, explanation, Outcome.UNASSIGNED, NOBODY_ELIGIBLE))
                for at, customer, explanation in queue
            ]
        loads = self.state.loads
        rooms = [room(c, loads[c.rep_id], route.capacities[c.rep_id], len(queue)) for c in eligible]
        fair = bound(rooms, len(queue), route.above_mean)
        room_left = slots(rooms, fair)
        matrix = self.scoring.probabilities([customer.fields for _, customer, _ in queue], eligible)
        placed = match(matrix, room_left, self.state.rng)
        used = [0] * len(eligible)
        for rep in placed:
            if rep != UNPLACED:
                used[rep] += 1
        full = {eligible[i].rep_id: why for i, why in enumerate(fullness(rooms, room_left, used))}
        keys = [route.keys[c.rep_id] for c in eligible]
        rounded = matrix.round(4).tolist()
        explained = facts(matrix, placed, eligible, full)
        decided = []
        for (at, customer, explanation), rep, row, said in zip(
            queue, placed, rounded, explained, strict=True
        ):
            explanation["eligible"] = dict(zip(keys, row, strict=True))
            if rep == UNPLACED or said is None:
                decided.append(
                    (at, _leave(customer, rule, explanation, Outcome.UNASSIGNED, NOBODY_ELIGIBLE))
                )
                continue
            chosen = eligible[rep]
            capacity = route.capacities[chosen.rep_id]
            load = loads[chosen.rep_id]
            if eligibility(chosen, load, capacity) is not None:  # never: the slots forbid it
                raise AssertionError(f"smart matching overfilled rep {chosen.rep_id}")
            explanation["smart"] = {
                "model": self.scoring.version,
                **said,
                "record": self.scoring.record(customer.fields, chosen),
                "capacity": {
                    "given_today": load.assigned_today + 1,
                    "quota": capacity,
                    "holdings": load.counted_holdings(chosen) + 1,
                    "cap": chosen.holding_cap,
                },
                "fairness": {
                    "most": fair.most,
                    "even": round(fair.even, 2),
                    "above_mean": route.above_mean,
                },
            }
            decided.append((at, self.give(customer, rule, chosen, explanation)))
        return decided

    def give(
        self,
        customer: RoutedCustomer,
        rule: Rule,
        candidate: Candidate,
        explanation: dict[str, Any],
    ) -> Decision:
        self.state.loads[candidate.rep_id].take(is_won=customer.is_won)
        self.given.append(candidate.rep_id)
        explanation.update(outcome=Outcome.ASSIGNED.value, reason="", owner=candidate.rep_id)
        return Decision(
            customer.customer_id,
            customer.pool_id,
            Outcome.ASSIGNED,
            "",
            explanation,
            rule.rule_id,
            candidate.rep_id,
        )


def _leave(
    customer: RoutedCustomer,
    rule: Rule | None,
    explanation: dict[str, Any],
    outcome: Outcome,
    reason: str,
) -> Decision:
    explanation.update(outcome=outcome.value, reason=reason, owner=None)
    rule_id = rule.rule_id if rule else None
    return Decision(customer.customer_id, customer.pool_id, outcome, reason, explanation, rule_id)


def plan(
    customers: Iterable[RoutedCustomer],
    rules: Sequence[Rule],
    candidates_by_team: Mapping[int, Sequence[Candidate]],
    seed: int = 0,
    *,
    users: Mapping[int, Candidate] | None = None,
    state: PlanState | None = None,
    scoring: Scoring = NO_MODEL,
) -> Plan:
    """Decide every customer in order. ``users`` are the reps named by user targets;
    ``state`` continues an earlier plan (its random source then replaces ``seed``);
    ``scoring`` is the win model of smart rules (without one they fall back, saying so)."""
    state = state or PlanState.fresh(seed)
    planner = _Planner(rules, candidates_by_team, users or {}, state, scoring)
    decisions: list[Decision] = []
    for customer in customers:
        planner.position = len(decisions)
        decisions.append(planner.decide(customer))
    planner.settle(decisions)
    return Plan(decisions, state)
