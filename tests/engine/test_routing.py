"""Routing as pure functions: eligibility, every strategy, the planner's rules and explanations,
and properties — a plan never passes a cap or quota, round-robin is even, weighted keeps its
ratio, the unavailable never receive, ties are seeded coin flips."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from highseas.engine.limits import strictest
from highseas.engine.planner import (
    Outcome,
    PlanState,
    RoutedCustomer,
    Rule,
    _rounded,
    plan,
)
from highseas.engine.routing import (
    Candidate,
    Load,
    Rejection,
    Skills,
    eligibility,
    smoothed_win_rate,
)
from highseas.engine.targets import TeamTarget, UserTarget, parse_target, validate_target

TEAM = 1


def team_rule(strategy: str, rule_id: int = 1, **options: Any) -> Rule:
    return Rule(
        rule_id,
        f"rule {rule_id}",
        {},
        parse_target({"team": TEAM, "strategy": strategy, **options}),
    )


def customers(count: int, **fields: Any) -> list[RoutedCustomer]:
    return [RoutedCustomer(i, 1, dict(fields)) for i in range(1, count + 1)]


def owners(decisions: Sequence[Any]) -> Counter[int | None]:
    return Counter(d.owner_id for d in decisions)


def run(strategy: str, reps: list[Candidate], count: int, seed: int = 1, **options: Any) -> Any:
    return plan(customers(count), [team_rule(strategy, **options)], {TEAM: reps}, seed)


# --- eligibility ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "capacity", "reason"),
    [
        (Candidate(1, is_active=False, on_leave=True), None, Rejection.INACTIVE),
        (Candidate(1, on_leave=True, holdings=9, holding_cap=1), None, Rejection.ON_LEAVE),
        (Candidate(1, holdings=3, holding_cap=3), None, Rejection.HOLDING_CAP_REACHED),
        (
            Candidate(1, holdings=2, won_holdings=1, holding_cap=3, count_won_in_cap=True),
            None,
            Rejection.HOLDING_CAP_REACHED,
        ),
        (Candidate(1, assigned_today=4), 4, Rejection.DAILY_QUOTA_REACHED),
    ],
)
def test_the_first_rule_a_rep_fails_is_the_reason(
    candidate: Candidate, capacity: int | None, reason: Rejection
) -> None:
    verdict = eligibility(candidate, Load.of(candidate), capacity)
    assert verdict is not None and verdict.reason is reason


def test_won_customers_count_toward_the_cap_only_where_the_pool_says_so() -> None:
    rep = Candidate(1, holdings=2, won_holdings=5, holding_cap=3)
    assert eligibility(rep, Load.of(rep), None) is None


def test_a_rep_without_decided_deals_counts_as_even() -> None:
    assert smoothed_win_rate(0, 0) == 0.5
    assert smoothed_win_rate(8, 0) == 0.9


# --- strategies --------------------------------------------------------------------------------


def test_round_robin_follows_the_pointer_and_skips_the_unavailable() -> None:
    reps = [Candidate(5), Candidate(3), Candidate(9, on_leave=True), Candidate(7)]
    state = PlanState.fresh(1)
    state.cursors[(1, TEAM)] = {"last": 5}
    decided = plan(customers(5), [team_rule("round_robin")], {TEAM: reps}, state=state)
    assert [d.owner_id for d in decided.decisions] == [7, 3, 5, 7, 3]
    assert state.cursors[(1, TEAM)] == {"last": 3}
    assert state.touched == {(1, TEAM)}


def test_a_fresh_round_robin_starts_at_a_seeded_random_rep() -> None:
    reps = [Candidate(i) for i in range(1, 9)]
    starts = {run("round_robin", reps, 1, seed=seed).decisions[0].owner_id for seed in range(30)}
    assert len(starts) > 3
    first = run("round_robin", reps, 1, seed=4).decisions[0]
    assert first.explanation["tie_break"]["among"] == list(range(1, 9))


def test_weighted_keeps_its_credits_in_the_pointer_across_plans() -> None:
    reps = [Candidate(1), Candidate(2)]
    state = PlanState.fresh(3)
    rule = team_rule("weighted", weights={"1": 2})
    given = [
        plan(customers(1), [rule], {TEAM: reps}, state=state).decisions[0].owner_id
        for _ in range(30)
    ]
    assert Counter(given) == Counter({1: 20, 2: 10})


def test_weight_zero_excludes_a_rep() -> None:
    decided = run("weighted", [Candidate(1), Candidate(2)], 10, weights={"2": 0})
    assert owners(decided.decisions) == Counter({1: 10})
    assert decided.decisions[0].explanation["rejected"] == {"2": {"reason": "zero_weight"}}


def test_least_loaded_fills_the_emptiest_rep_first() -> None:
    reps = [Candidate(1, holdings=10), Candidate(2, holdings=4), Candidate(3, holdings=7)]
    decided = run("least_loaded", reps, 9)
    assert owners(decided.decisions) == Counter({2: 6, 3: 3})
    assert decided.decisions[0].explanation["eligible"] == {"1": -10.0, "2": -4.0, "3": -7.0}


def test_capacity_fills_reps_in_proportion_to_their_quota_for_the_day() -> None:
    reps = [Candidate(1), Candidate(2)]
    decided = run("capacity", reps, 12, daily_quota=12, quotas={"2": 6})
    assert owners(decided.decisions) == Counter({1: 8, 2: 4})


def test_capacity_counts_what_was_given_earlier_today() -> None:
    reps = [Candidate(1), Candidate(2, assigned_today=4)]
    decided = run("capacity", reps, 10, daily_quota=6)
    assert owners(decided.decisions) == Counter({1: 6, 2: 2, None: 2})
    assert decided.decisions[-1].explanation["rejected"] == {
        "1": {"reason": "daily_quota_reached", "used": 6, "limit": 6},
        "2": {"reason": "daily_quota_reached", "used": 6, "limit": 6},
    }


def test_a_per_rep_quota_overrides_the_rules_and_the_strictest_wins() -> None:
    reps = [Candidate(1, daily_capacity=3), Candidate(2)]
    decided = run("capacity", reps, 10, daily_quota=5, quotas={"2": 2})
    assert owners(decided.decisions) == Counter({1: 3, 2: 2, None: 5})


def test_performance_gives_in_proportion_to_the_win_rate() -> None:
    reps = [Candidate(1, win_rate=0.6), Candidate(2, win_rate=0.3)]
    assert owners(run("performance", reps, 300).decisions) == Counter({1: 200, 2: 100})


def test_skill_prefers_the_most_matches_then_the_lightest_load() -> None:
    reps = [
        Candidate(1, skills=Skills(industries=frozenset({"software"}))),
        Candidate(
            2, skills=Skills(industries=frozenset({"software"}), regions=frozenset({"深圳"}))
        ),
        Candidate(3, holdings=0),
    ]
    rule = team_rule("skill")
    matched = RoutedCustomer(1, 1, {"industry": "software", "city": "深圳", "province": "广东"})
    unmatched = RoutedCustomer(2, 1, {"industry": "retail"})
    decided = plan([matched, unmatched], [rule], {TEAM: reps}, 1).decisions
    assert decided[0].owner_id == 2
    assert decided[0].explanation["matched"] == {
        "1": ["industry"],
        "2": ["industry", "region"],
        "3": [],
    }
    assert decided[1].owner_id in (1, 3)


def test_skill_matches_a_product_line_by_custom_field_or_tag() -> None:
    reps = [Candidate(1), Candidate(2, holdings=5, skills=Skills(product_lines=frozenset({"ERP"})))]
    by_field = RoutedCustomer(1, 1, {"custom": {"product_line": "ERP"}})
    by_tag = RoutedCustomer(2, 1, {"tags": ["ERP"]})
    decided = plan([by_field, by_tag], [team_rule("skill")], {TEAM: reps}, 1).decisions
    assert [d.owner_id for d in decided] == [2, 2]


# --- the planner --------------------------------------------------------------------------------


def test_the_first_matching_rule_wins_and_the_earlier_ones_are_listed() -> None:
    rules = [
        Rule(
            1,
            "广东",
            {"field": "province", "op": "eq", "value": "广东"},
            parse_target({"user": 11}),
            position=2,
        ),
        Rule(
            2,
            "A级",
            {"field": "level", "op": "eq", "value": "A"},
            parse_target({"user": 12}),
            position=1,
        ),
        Rule(3, "其余", {}, parse_target({"pool": 9}), position=3),
    ]
    users = {11: Candidate(11), 12: Candidate(12)}
    gd_a = RoutedCustomer(1, 1, {"province": "广东", "level": "A"})
    gd_b = RoutedCustomer(2, 1, {"province": "广东", "level": "B"})
    other = RoutedCustomer(3, 1, {"province": "浙江", "level": "C"})
    first, second, third = plan([gd_a, gd_b, other], rules, {}, 1, users=users).decisions
    assert (first.rule_id, first.owner_id, first.explanation["not_matched"]) == (2, 12, [])
    assert (second.rule_id, second.owner_id, second.explanation["not_matched"]) == (1, 11, [2])
    assert (third.outcome, third.reason, third.explanation["not_matched"]) == (
        Outcome.KEPT_IN_POOL,
        "kept_in_pool",
        [2, 1],
    )


def test_rules_apply_to_their_own_pool_or_to_every_pool() -> None:
    rules = [
        Rule(1, "池2", {}, parse_target({"user": 11}), pool_id=2),
        Rule(2, "通用", {}, parse_target({"user": 12}), position=1),
    ]
    users = {11: Candidate(11), 12: Candidate(12)}
    in_one, in_two = plan(
        [RoutedCustomer(1, 1, {}), RoutedCustomer(2, 2, {})], rules, {}, 1, users=users
    ).decisions
    assert (in_one.owner_id, in_two.owner_id) == (12, 11)


def test_without_a_matching_rule_the_customer_stays_pooled() -> None:
    rule = Rule(
        1, "广东", {"field": "province", "op": "eq", "value": "广东"}, parse_target({"user": 11})
    )
    (decision,) = plan(
        [RoutedCustomer(1, 1, {"province": "浙江"})], [rule], {}, 1, users={11: Candidate(11)}
    ).decisions
    assert (decision.outcome, decision.reason, decision.rule_id) == (
        Outcome.NO_RULE,
        "no_rule_matched",
        None,
    )
    assert decision.explanation == {
        "rule": None,
        "not_matched": [1],
        "outcome": "no_rule",
        "reason": "no_rule_matched",
        "owner": None,
    }


def test_nobody_eligible_leaves_the_customer_pooled_with_every_rejection() -> None:
    reps = [
        Candidate(1, is_active=False),
        Candidate(2, on_leave=True),
        Candidate(3, holdings=1, holding_cap=1),
    ]
    (decision,) = run("least_loaded", reps, 1).decisions
    assert (decision.outcome, decision.reason, decision.owner_id) == (
        Outcome.UNASSIGNED,
        "nobody_eligible",
        None,
    )
    assert decision.explanation["rejected"] == {
        "1": {"reason": "inactive"},
        "2": {"reason": "on_leave"},
        "3": {"reason": "holding_cap_reached", "used": 1, "limit": 1},
    }


def test_a_user_target_says_why_its_rep_cannot_take_it() -> None:
    rule = Rule(1, "给A", {}, parse_target({"user": 11, "daily_quota": 1}))
    users = {11: Candidate(11, assigned_today=1)}
    (decision,) = plan(customers(1), [rule], {}, 1, users=users).decisions
    assert decision.reason == "daily_quota_reached"
    (missing,) = plan(customers(1), [rule], {}, 1).decisions
    assert missing.reason == "unknown_user"
    (empty,) = plan(customers(1), [team_rule("round_robin")], {}, 1).decisions
    assert empty.reason == "empty_team"


def test_an_explanation_names_the_rule_the_candidates_and_the_tie_break() -> None:
    (decision,) = run(
        "least_loaded",
        [Candidate(1), Candidate(2), Candidate(3, holdings=1, holding_cap=1)],
        1,
        seed=9,
    ).decisions
    explanation = decision.explanation
    assert explanation["rule"] == {"id": 1, "name": "rule 1"}
    assert explanation["target"] == {"kind": "team", "id": TEAM, "strategy": "least_loaded"}
    assert explanation["eligible"] == {"1": -0.0, "2": -0.0}
    assert explanation["rejected"] == {
        "3": {"reason": "holding_cap_reached", "used": 1, "limit": 1}
    }
    assert explanation["tie_break"] == {
        "method": "seeded_random",
        "among": [1, 2],
        "chosen": decision.owner_id,
    }
    assert (explanation["outcome"], explanation["owner"]) == ("assigned", decision.owner_id)


def test_ties_are_broken_by_the_seed_not_by_id() -> None:
    reps = [Candidate(1), Candidate(2), Candidate(3)]
    firsts = [run("least_loaded", reps, 1, seed=seed).decisions[0].owner_id for seed in range(40)]
    assert set(firsts) == {1, 2, 3}
    again = [run("least_loaded", reps, 1, seed=seed).decisions[0].owner_id for seed in range(40)]
    assert firsts == again


def test_a_database_hint_saves_tests_but_never_changes_a_decision() -> None:
    rules = [
        Rule(
            i,
            f"r{i}",
            {"field": "province", "op": "eq", "value": p},
            parse_target({"team": TEAM, "strategy": "round_robin"}),
            position=i,
        )
        for i, p in enumerate(["北京", "上海", "广东"], start=1)
    ]
    reps = {TEAM: [Candidate(1), Candidate(2)]}
    plain = [RoutedCustomer(i, 1, {"province": p}) for i, p in enumerate(["广东", "上海", "西藏"])]
    hinted = [
        RoutedCustomer(c.customer_id, 1, c.fields, hint=h)
        for c, h in zip(plain, [3, 2, None], strict=True)
    ]
    assert [d.explanation for d in plan(plain, rules, reps, 5).decisions] == [
        d.explanation for d in plan(hinted, rules, reps, 5).decisions
    ]


# --- properties ---------------------------------------------------------------------------------

STRATEGIES = ["round_robin", "weighted", "least_loaded", "capacity", "performance", "skill"]


@st.composite
def candidates(draw: st.DrawFn, rep_id: int) -> Candidate:
    return Candidate(
        rep_id,
        is_active=draw(st.booleans().map(lambda b: b or draw(st.booleans()))),
        on_leave=draw(st.booleans()) and draw(st.booleans()),
        holdings=draw(st.integers(0, 6)),
        won_holdings=draw(st.integers(0, 3)),
        holding_cap=draw(st.one_of(st.none(), st.integers(0, 12))),
        count_won_in_cap=draw(st.booleans()),
        assigned_today=draw(st.integers(0, 4)),
        daily_capacity=draw(st.one_of(st.none(), st.integers(0, 8))),
        skills=Skills(industries=frozenset(draw(st.sets(st.sampled_from(["a", "b"]))))),
        win_rate=draw(st.floats(0.01, 1)),
        weight=draw(st.integers(0, 3)),
    )


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[Rule], dict[int, list[Candidate]], dict[int, Candidate], list[RoutedCustomer]]:
    pool = list(range(1, draw(st.integers(1, 6)) + 1))
    reps = {rep: draw(candidates(rep)) for rep in pool}
    teams = {t: [reps[r] for r in draw(st.sets(st.sampled_from(pool), min_size=1))] for t in (1, 2)}
    rules = []
    for rule_id in range(1, draw(st.integers(1, 4)) + 1):
        target: dict[str, Any]
        if draw(st.booleans()):
            target = {"user": draw(st.sampled_from(pool))}
        else:
            target = {
                "team": draw(st.sampled_from([1, 2])),
                "strategy": draw(st.sampled_from(STRATEGIES)),
                "daily_quota": draw(st.integers(1, 6)),
            }
        industry = draw(st.sampled_from(["a", "b", None]))
        conditions = (
            {} if industry is None else {"field": "industry", "op": "eq", "value": industry}
        )
        rules.append(
            Rule(rule_id, f"r{rule_id}", conditions, parse_target(target), position=rule_id)
        )
    routed = [
        RoutedCustomer(
            i, 1, {"industry": draw(st.sampled_from(["a", "b"]))}, is_won=draw(st.booleans())
        )
        for i in range(draw(st.integers(0, 60)))
    ]
    return rules, teams, reps, routed


def quota_of(rule: Rule, rep: Candidate) -> int | None:
    target = rule.target
    quota = target.quota_for(rep.rep_id) if isinstance(target, TeamTarget) else None
    if isinstance(target, UserTarget):
        quota = target.daily_quota
    return strictest(rep.daily_capacity, quota)


@given(scenarios(), st.integers(0, 2**16))
def test_a_plan_never_takes_a_rep_past_a_cap_or_quota(scenario: Any, seed: int) -> None:
    """Replay the plan: every customer went to an available rep who was, at that moment,
    under their holding cap and under the daily quota of the rule that chose them."""
    rules, teams, reps, routed = scenario
    by_id = {rule.rule_id: rule for rule in rules}
    loads = {rep_id: Load.of(rep) for rep_id, rep in reps.items()}
    for decision, customer in zip(
        plan(routed, rules, teams, seed, users=reps).decisions, routed, strict=True
    ):
        if decision.owner_id is None:
            continue
        rep, load = reps[decision.owner_id], loads[decision.owner_id]
        assert rep.is_active and not rep.on_leave
        assert rep.holding_cap is None or load.counted_holdings(rep) < rep.holding_cap
        limit = quota_of(by_id[decision.rule_id or 0], rep)
        assert limit is None or load.assigned_today < limit
        load.take(is_won=customer.is_won)


@given(scenarios(), st.integers(0, 2**16))
def test_every_decision_names_the_reps_eligible_and_rejected_at_its_moment(
    scenario: Any, seed: int
) -> None:
    """Replay the plan from the reps' starting loads: each decision of a rep or team target
    lists as eligible, in the team's order, exactly the reps ``eligibility`` passes at that
    moment, and every other rep with its rejection. (The planner keeps the verdicts from one
    customer to the next and judges again only the reps given a customer since.)"""
    rules, teams, reps, routed = scenario
    by_id = {rule.rule_id: rule for rule in rules}
    loads = {rep_id: Load.of(rep) for rep_id, rep in reps.items()}
    for decision, customer in zip(
        plan(routed, rules, teams, seed, users=reps).decisions, routed, strict=True
    ):
        rule = by_id.get(decision.rule_id or 0)
        if rule is not None:
            target = rule.target
            members = (
                teams[target.team_id]
                if isinstance(target, TeamTarget)
                else [reps[target.user_id]]
                if isinstance(target, UserTarget)
                else []
            )
            eligible, rejected = [], {}
            for rep in members:
                verdict = eligibility(rep, loads[rep.rep_id], quota_of(rule, rep))
                zero = isinstance(target, TeamTarget) and target.strategy.value == "weighted"
                if verdict is None and zero and rep.weight <= 0:
                    rejected[str(rep.rep_id)] = {"reason": Rejection.ZERO_WEIGHT.value}
                elif verdict is None:
                    eligible.append(str(rep.rep_id))
                else:
                    rejected[str(rep.rep_id)] = {"reason": verdict.reason.value} | (
                        {"used": verdict.used, "limit": verdict.limit}
                        if verdict.limit is not None
                        else {}
                    )
            explanation = decision.explanation
            assert explanation.get("rejected", {}) == rejected
            assert list(explanation.get("eligible", {})) == (eligible if members else [])
        if decision.owner_id is not None:
            loads[decision.owner_id].take(is_won=customer.is_won)


@given(st.integers(1, 12), st.integers(0, 500), st.integers(0, 2**16))
def test_round_robin_gives_each_eligible_rep_floor_or_ceil(k: int, n: int, seed: int) -> None:
    reps = [Candidate(i) for i in range(1, k + 1)] + [Candidate(99, is_active=False)]
    counts = owners(run("round_robin", reps, n, seed=seed).decisions)
    assert 99 not in counts
    for rep in range(1, k + 1):
        assert counts[rep] in (n // k, -(-n // k))


WEIGHTED_TOLERANCE = 1  # customers off each rep's exact share, while the eligible set is fixed


@settings(deadline=None, max_examples=30)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=6), st.integers(0, 2**16))
def test_weighted_shares_stay_within_one_customer_of_the_ratio(
    weights: list[int], seed: int
) -> None:
    reps = [Candidate(i) for i in range(1, len(weights) + 1)]
    options = {"weights": {str(i): w for i, w in enumerate(weights, start=1)}}
    n = 3_000
    counts = owners(run("weighted", reps, n, seed=seed, **options).decisions)
    total = sum(weights)
    for rep, weight in enumerate(weights, start=1):
        assert abs(counts[rep] - n * weight / total) <= WEIGHTED_TOLERANCE


def test_weighted_two_to_one_over_three_thousand_customers() -> None:
    counts = owners(
        run("weighted", [Candidate(1), Candidate(2)], 3_000, weights={"1": 2}).decisions
    )
    assert (
        abs(counts[1] - 2_000) <= WEIGHTED_TOLERANCE
        and abs(counts[2] - 1_000) <= WEIGHTED_TOLERANCE
    )


@given(st.sampled_from(STRATEGIES), st.integers(0, 2**16), st.integers(1, 40))
def test_an_inactive_or_absent_rep_never_receives_a_customer(
    strategy: str, seed: int, n: int
) -> None:
    reps = [Candidate(1, is_active=False), Candidate(2, on_leave=True), Candidate(3), Candidate(4)]
    counts = owners(run(strategy, reps, n, seed=seed, daily_quota=100).decisions)
    assert counts[1] == counts[2] == 0
    assert counts[3] + counts[4] == n


@given(scenarios(), st.integers(0, 2**16), st.integers(1, 10))
def test_planning_in_batches_decides_as_planning_in_one_go(
    scenario: Any, seed: int, size: int
) -> None:
    rules, teams, reps, routed = scenario
    whole = plan(routed, rules, teams, seed, users=reps).decisions
    state = PlanState.fresh(seed)
    pieces = [
        d
        for start in range(0, len(routed), size)
        for d in plan(routed[start : start + size], rules, teams, users=reps, state=state).decisions
    ]
    assert [(d.customer_id, d.owner_id, d.explanation) for d in whole] == [
        (d.customer_id, d.owner_id, d.explanation) for d in pieces
    ]


# --- targets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "problems"),
    [
        ({"user": 3}, []),
        ({"team": 2, "strategy": "weighted", "weights": {"5": 2}}, []),
        ({"pool": 1}, []),
        ({}, ['$: Name exactly one of "user", "team" or "pool".']),
        ({"user": 1, "pool": 2}, ['$: Name exactly one of "user", "team" or "pool".']),
        ({"user": "x"}, ["$.user: Expected an id."]),
        (
            {"team": 2},
            [
                "$.strategy: Unknown strategy None; use one of round_robin, weighted, "
                "least_loaded, capacity, performance, skill, smart."
            ],
        ),
        (
            {"team": 2, "strategy": "capacity"},
            ['$.daily_quota: The "capacity" strategy needs a daily quota.'],
        ),
        (
            {"team": 2, "strategy": "weighted", "weights": {"x": 1, "3": -1}},
            ["$.weights.x: Keys are user ids.", "$.weights.3: Expected a whole number >= 0."],
        ),
        ({"pool": 1, "strategy": "weighted"}, ["$.strategy: Unknown key for a pool target."]),
        ({"user": 1, "daily_quota": 0}, ["$.daily_quota: Expected a whole number >= 1, or null."]),
    ],
)
def test_target_validation(target: Mapping[str, Any], problems: list[str]) -> None:
    assert [str(p) for p in validate_target(target)] == problems


def test_smart_assignment_is_a_team_strategy() -> None:
    assert validate_target({"team": 1, "strategy": "smart"}) == []


@given(st.floats(allow_nan=False) | st.integers() | st.sampled_from([0.0, -0.0, 1.0, 1e300]))
def test_a_score_is_rounded_as_round_rounds_it(score: float) -> None:
    """A score shown in a decision's explanation: ``round(score, 4)``, the value, its type and
    a zero's sign, whole or not."""
    ours, theirs = _rounded(score), round(score, 4)
    assert ours == theirs and type(ours) is type(theirs)
    assert str(ours) == str(theirs)
