"""The smart strategy in the engine: exact matching under caps, quotas and the fairness bound,
explanations, and the explicit fallback without a model."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from highseas.engine.conditions import Fields
from highseas.engine.matching import Room, bound, even_level, match, slots
from highseas.engine.planner import Outcome, PlanState, RoutedCustomer, Rule, plan
from highseas.engine.routing import Candidate, Load
from highseas.engine.smart import Fallback
from highseas.engine.targets import parse_target, validate_target

TEAM = 1


class TableScorer:
    """P(win) from a table: industry × rep."""

    version = 7

    def __init__(self, table: dict[tuple[str, int], float], default: float = 0.2) -> None:
        self.table, self.default = table, default

    def probabilities(self, customers: Sequence[Fields], reps: Sequence[Candidate]) -> Any:
        return np.array(
            [
                [self.table.get((str(c.get("industry")), r.rep_id), self.default) for r in reps]
                for c in customers
            ],
            dtype=np.float64,
        ).reshape(len(customers), len(reps))

    def record(self, customer: Fields, rep: Candidate) -> dict[str, Any] | None:
        return {"won": 9, "decided": 14, "segment": {"industry": customer.get("industry")}}


def smart_rule(**target: Any) -> Rule:
    return Rule(1, "smart", {}, parse_target({"team": TEAM, "strategy": "smart", **target}))


def customers(industries: Sequence[str]) -> list[RoutedCustomer]:
    return [RoutedCustomer(i, 1, {"industry": ind}) for i, ind in enumerate(industries, start=1)]


def owners(decisions: Any) -> Counter[int | None]:
    return Counter(d.owner_id for d in decisions)


def test_smart_is_a_valid_strategy_with_a_fairness_bound() -> None:
    assert validate_target({"team": 1, "strategy": "smart", "fairness": 0.5}) == []
    (problem,) = validate_target({"team": 1, "strategy": "round_robin", "fairness": 0.5})
    assert problem.path == "$.fairness"
    (problem,) = validate_target({"team": 1, "strategy": "smart", "fairness": -1})
    assert problem.path == "$.fairness"


def test_each_customer_goes_to_the_rep_most_likely_to_win_it_when_room_allows() -> None:
    scorer = TableScorer({("金融", 1): 0.6, ("制造", 2): 0.5})
    reps = {TEAM: [Candidate(1), Candidate(2)]}
    decided = plan(customers(["金融", "制造"]), [smart_rule()], reps, 3, scoring=scorer).decisions
    assert [d.owner_id for d in decided] == [1, 2]


def test_the_matching_beats_greedy_when_the_best_rep_has_one_slot() -> None:
    """Rep 1 is best for both, but much better for the second: the solver gives rep 1 the
    second customer, which a greedy rule going in order would not."""
    scorer = TableScorer({("a", 1): 0.5, ("a", 2): 0.45, ("b", 1): 0.9, ("b", 2): 0.1})
    reps = {TEAM: [Candidate(1, daily_capacity=1), Candidate(2)]}
    decided = plan(customers(["a", "b"]), [smart_rule()], reps, 0, scoring=scorer).decisions
    assert [d.owner_id for d in decided] == [2, 1]
    smart = decided[0].explanation["smart"]
    assert smart["next_best"] == {"rep": 1, "p": 0.5, "why": "capacity"}


def test_the_explanation_gives_the_probabilities_the_record_and_the_room() -> None:
    scorer = TableScorer({("金融", 1): 0.6, ("金融", 2): 0.3, ("金融", 3): 0.2})
    reps = {
        TEAM: [
            Candidate(1, daily_capacity=5, holding_cap=50, holdings=3),
            Candidate(2),
            Candidate(3),
        ]
    }
    (decision,) = plan(customers(["金融"]), [smart_rule()], reps, 0, scoring=scorer).decisions
    smart = decision.explanation["smart"]
    assert decision.owner_id == 1
    assert smart["model"] == 7 and smart["p"] == 0.6 and smart["team_median"] == 0.3
    assert smart["record"]["won"] == 9
    assert smart["capacity"] == {"given_today": 1, "quota": 5, "holdings": 4, "cap": 50}
    assert smart["next_best"] == {"rep": 2, "p": 0.3, "why": "lower"}
    assert decision.explanation["eligible"] == {"1": 0.6, "2": 0.3, "3": 0.2}


def test_the_fairness_bound_passes_a_customer_to_the_next_rep() -> None:
    scorer = TableScorer({("a", 1): 0.9}, default=0.1)
    reps = {TEAM: [Candidate(1), Candidate(2)]}
    decided = plan(
        customers(["a"] * 4), [smart_rule(fairness=0)], reps, 0, scoring=scorer
    ).decisions
    assert owners(decided) == Counter({1: 2, 2: 2})
    passed = [d for d in decided if d.owner_id == 2]
    assert all(d.explanation["smart"]["next_best"]["why"] == "fairness" for d in passed)


def test_without_a_model_smart_falls_back_to_performance_and_says_so() -> None:
    reps = {TEAM: [Candidate(1, win_rate=0.9), Candidate(2, win_rate=0.1)]}
    decided = plan(customers(["a"]), [smart_rule()], reps, 0).decisions
    (decision,) = decided
    assert decision.owner_id == 1
    assert decision.explanation["fallback"] == {"strategy": "performance", "reason": "no_model"}
    assert "smart" not in decision.explanation
    thin = plan(customers(["a"]), [smart_rule()], reps, 0, scoring=Fallback("thin_data"))
    assert thin.decisions[0].explanation["fallback"]["reason"] == "thin_data"


def test_smart_customers_keep_their_place_among_other_rules() -> None:
    rules = [
        Rule(
            1,
            "smart",
            {"field": "industry", "op": "eq", "value": "a"},
            parse_target({"team": TEAM, "strategy": "smart"}),
            position=1,
        ),
        Rule(2, "rest", {}, parse_target({"user": 3}), position=2),
    ]
    reps = {TEAM: [Candidate(1), Candidate(2)]}
    decided = plan(
        customers(["a", "b", "a"]),
        rules,
        reps,
        0,
        users={3: Candidate(3)},
        scoring=TableScorer({}),
    ).decisions
    assert [d.customer_id for d in decided] == [1, 2, 3]
    assert [d.rule_id for d in decided] == [1, 2, 1]
    assert decided[1].owner_id == 3


def test_ties_are_broken_by_the_seed() -> None:
    reps = {TEAM: [Candidate(i) for i in range(1, 6)]}
    chosen = {
        plan(customers(["a"]), [smart_rule()], reps, seed, scoring=TableScorer({}))
        .decisions[0]
        .owner_id
        for seed in range(30)
    }
    assert len(chosen) > 1


# --- the solver ---------------------------------------------------------------------------------


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(0, 2**16), st.integers(1, 12))
def test_chunked_matching_respects_the_room_and_is_exact_in_one_chunk(
    n: int, k: int, seed: int, chunk: int
) -> None:
    rng = np.random.default_rng(seed)
    p = rng.random((n, k))
    room = rng.integers(0, 8, k).tolist()
    placed = match(p, room, random.Random(seed), chunk=chunk)
    counts = Counter(r for r in placed if r >= 0)
    assert all(counts[r] <= room[r] for r in range(k))
    assert sum(counts.values()) == min(n, sum(room))
    whole = match(p, room, random.Random(seed), chunk=n)
    columns = np.repeat(np.arange(k), room)
    if columns.size:
        rows, cols = linear_sum_assignment(p[:, columns], maximize=True)
        best = p[rows, columns[cols]].sum()
        got = sum(p[i, r] for i, r in enumerate(whole) if r >= 0)
        assert math.isclose(got, best, rel_tol=1e-9, abs_tol=1e-9)


@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 10)), min_size=1, max_size=8),
    st.integers(0, 60),
    st.floats(0, 2),
)
def test_an_even_split_always_fits_under_the_bound(
    reps: list[tuple[int, int]], n: int, above: float
) -> None:
    rooms = [Room(limit, given) for limit, given in reps]
    fair = bound(rooms, n, above)
    assert fair.placed == min(n, sum(limit for limit, _ in reps))
    assert sum(slots(rooms, fair)) >= fair.placed
    if fair.placed:
        assert fair.most >= even_level(rooms, fair.placed) - 1e-9


# --- properties of whole plans ----------------------------------------------------------------


@st.composite
def teams(draw: st.DrawFn) -> list[Candidate]:
    found = []
    for rep_id in range(1, draw(st.integers(1, 7)) + 1):
        found.append(
            Candidate(
                rep_id,
                is_active=draw(st.booleans()) or draw(st.booleans()),
                on_leave=draw(st.booleans()) and draw(st.booleans()),
                holdings=draw(st.integers(0, 6)),
                won_holdings=draw(st.integers(0, 3)),
                holding_cap=draw(st.one_of(st.none(), st.integers(0, 14))),
                count_won_in_cap=draw(st.booleans()),
                assigned_today=draw(st.integers(0, 5)),
                daily_capacity=draw(st.one_of(st.none(), st.integers(0, 9))),
            )
        )
    return found


@settings(deadline=None, max_examples=150)
@given(
    teams(),
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=80),
    st.floats(0, 1.5),
    st.one_of(st.none(), st.integers(1, 8)),
    st.integers(0, 2**16),
    st.integers(1, 100),
)
def test_smart_never_passes_a_cap_a_quota_or_the_fairness_bound(
    reps: list[Candidate],
    industries: list[str],
    fairness: float,
    quota: int | None,
    seed: int,
    batch: int,
) -> None:
    rng = random.Random(seed)
    scorer = TableScorer(
        {(ind, r.rep_id): rng.random() for ind in "abc" for r in reps}, default=0.0
    )
    target: dict[str, Any] = {"fairness": fairness}
    if quota is not None:
        target["daily_quota"] = quota
    rule = smart_rule(**target)
    routed = customers(industries)
    state = PlanState.fresh(seed)
    decided = [
        d
        for start in range(0, len(routed), batch)
        for d in plan(
            routed[start : start + batch], [rule], {TEAM: reps}, scoring=scorer, state=state
        ).decisions
    ]
    loads = {r.rep_id: Load.of(r) for r in reps}
    for decision in decided:
        if decision.owner_id is None:
            assert decision.outcome is not Outcome.ASSIGNED
            continue
        rep, load = next(r for r in reps if r.rep_id == decision.owner_id), loads[decision.owner_id]
        assert rep.is_active and not rep.on_leave
        assert rep.holding_cap is None or load.counted_holdings(rep) < rep.holding_cap
        limit = min(x for x in (rep.daily_capacity, quota, 10**9) if x is not None)
        assert load.assigned_today < limit
        load.take(is_won=False)
        fair = decision.explanation["smart"]["fairness"]
        assert load.assigned_today <= fair["most"]
        assert fair["most"] <= math.ceil((1 + fairness) * fair["even"] + 1e-6)


@settings(deadline=None, max_examples=50)
@given(teams(), st.lists(st.sampled_from(["a", "b"]), max_size=40), st.integers(0, 2**16))
def test_the_same_seed_and_data_give_the_same_smart_plan(
    reps: list[Candidate], industries: list[str], seed: int
) -> None:
    """Preview ≡ run in the engine: the plan is a function of the seed and the data."""
    scorer = TableScorer({("a", r.rep_id): 0.1 * (r.rep_id % 3) for r in reps})
    once = plan(customers(industries), [smart_rule()], {TEAM: reps}, seed, scoring=scorer)
    again = plan(customers(industries), [smart_rule()], {TEAM: reps}, seed, scoring=scorer)
    assert [(d.owner_id, d.explanation) for d in once.decisions] == [
        (d.owner_id, d.explanation) for d in again.decisions
    ]
