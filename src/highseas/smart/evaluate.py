"""The evaluation harness (SPEC §9): does ``smart`` win more on a world with known truth?

1. A synthetic world (``synthetic.World``) produces a year of history: customers given out at
   random, deals won or lost by draws from the true probabilities.
2. The model is trained on that history only (``validate.train``): it never sees the truth.
3. A later period of new customers arrives day by day and is routed through the real planner
   under each strategy — ``round_robin``, ``performance`` (win rates from the same history),
   ``smart`` (the model) and an oracle (``smart`` scored by the true probabilities) — with the
   same daily quota and, for the smart ones, the same fairness bound.
4. Each strategy is scored by its expected wins under the *true* probabilities. The figure is
   ``(smart − round_robin) / (oracle − round_robin)``: the share of the oracle's uplift that
   the model gains. Every day, every rep's count is checked against the bound.
5. The model is also measured against the truth on the later period: the AUC and calibration
   on outcomes drawn from the truth for round-robin's assignments, and the mean gap between
   its probabilities and the true ones.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from highseas.engine.planner import NO_MODEL, PlanState, RoutedCustomer, Rule, plan
from highseas.engine.routing import Candidate, smoothed_win_rate
from highseas.engine.smart import Scoring
from highseas.engine.targets import parse_target
from highseas.smart.features import Example
from highseas.smart.record import Record
from highseas.smart.scoring import ModelScorer, TruthScorer
from highseas.smart.synthetic import World
from highseas.smart.validate import measure, train

START = datetime(2025, 1, 1, tzinfo=UTC)
GOAL = 0.70


@dataclass(frozen=True)
class EvalOptions:
    seed: int = 7
    reps: int = 60
    teams: int = 6
    history_days: int = 365
    per_day: int = 100
    days: int = 20
    arrivals: int = 240  # new customers per day in the later period
    quota: int = 6  # per rep and day
    fairness: float = 0.25


def _rates(examples: list[Example]) -> dict[int, float]:
    won: Counter[int] = Counter()
    lost: Counter[int] = Counter()
    for example in examples:
        (won if example.won else lost)[example.rep.rep] += 1
    return {rep: smoothed_win_rate(won[rep], lost[rep]) for rep in {*won, *lost}}


def _route(
    strategy: str,
    days: list[list[dict[str, object]]],
    candidates: list[Candidate],
    scoring: Scoring | None,
    options: EvalOptions,
    truth: Callable[[list[dict[str, object]], list[int]], np.ndarray],
) -> dict[str, Any]:
    target: dict[str, Any] = {"team": 1, "strategy": strategy, "daily_quota": options.quota}
    if strategy == "smart":
        target["fairness"] = options.fairness
    rule = Rule(1, strategy, {}, parse_target(target))
    state = PlanState.fresh(options.seed)
    expected, assigned, worst, started = 0.0, 0, 0.0, time.perf_counter()
    rep_ids = [c.rep_id for c in candidates]
    column = {rep: i for i, rep in enumerate(rep_ids)}
    for arrivals in days:
        state.loads.clear()  # a new day: nothing given yet today
        routed = [_routed(i, c) for i, c in enumerate(arrivals)]
        decisions = plan(
            routed, [rule], {1: candidates}, state=state, scoring=scoring or NO_MODEL
        ).decisions
        p = truth(arrivals, rep_ids)
        counts: Counter[int] = Counter()
        for i, decision in enumerate(decisions):
            if decision.owner_id is not None:
                expected += float(p[i, column[decision.owner_id]])
                counts[decision.owner_id] += 1
                assigned += 1
        even = len([d for d in decisions if d.owner_id]) / len(candidates)
        if even:
            worst = max(worst, max(counts.values()) / even - 1)
        if strategy == "smart":
            _check_bound(decisions, counts)
    return {
        "expected_wins": round(expected, 2),
        "assigned": assigned,
        "most_above_even": round(worst, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _routed(i: int, customer: dict[str, object]) -> RoutedCustomer:
    return RoutedCustomer(i + 1, 1, customer)


def _check_bound(decisions: list[Any], counts: Counter[int]) -> None:
    for decision in decisions:
        if decision.owner_id is not None:
            most = decision.explanation["smart"]["fairness"]["most"]
            if counts[decision.owner_id] > most:
                raise AssertionError(f"rep {decision.owner_id} passed the fairness bound")


def evaluate(options: EvalOptions | None = None) -> dict[str, Any]:
    options = options or EvalOptions()
    world = World.build(options.seed, options.reps, options.teams, start=START)
    cutoff = START + timedelta(days=options.history_days)
    examples = [
        e for e in world.history(START, options.history_days, options.per_day) if e.at < cutoff
    ]
    started = time.perf_counter()
    trained = train(examples)
    train_seconds = time.perf_counter() - started
    if trained.model is None:
        raise RuntimeError(f"no model: {trained.fallback}")
    workload: dict[int, int] = {}
    for example in sorted(examples, key=lambda e: e.at):
        workload[example.rep.rep] = example.rep.workload or 0
    facts = {r.rep_id: r.facts(cutoff, workload.get(r.rep_id, 0)) for r in world.reps}
    scorer = ModelScorer(trained.model, 1, facts, Record.of(examples))
    rates = _rates(examples)
    candidates = [Candidate(r.rep_id, win_rate=rates.get(r.rep_id, 0.5)) for r in world.reps]
    days = [[world.customer() for _ in range(options.arrivals)] for _ in range(options.days)]

    def truth(customers: list[dict[str, object]], rep_ids: list[int]) -> np.ndarray:
        return world.matrix(customers, rep_ids, workload)

    oracle = TruthScorer(truth)
    results = {
        "round_robin": _route("round_robin", days, candidates, None, options, truth),
        "performance": _route("performance", days, candidates, None, options, truth),
        "smart": _route("smart", days, candidates, scorer, options, truth),
        "oracle": _route("smart", days, candidates, oracle, options, truth),
    }
    base = results["round_robin"]["expected_wins"]
    uplift = results["oracle"]["expected_wins"] - base
    share = (results["smart"]["expected_wins"] - base) / uplift if uplift else math.nan
    return {
        "options": asdict(options),
        "history_deals": len(examples),
        "train_seconds": round(train_seconds, 2),
        "strength": trained.strength,
        "holdout": {k: v for k, v in trained.metrics.items() if k != "calibration"},
        "holdout_calibration": trained.metrics.get("calibration"),
        "later_period": _against_truth(truth, scorer, days, candidates, options.seed),
        "strategies": results,
        "share_of_oracle_uplift": round(share, 3),
        "goal": GOAL,
        "meets_goal": share >= GOAL,
    }


def _against_truth(
    truth: Callable[[list[dict[str, object]], list[int]], np.ndarray],
    scorer: ModelScorer,
    days: list[list[dict[str, object]]],
    candidates: list[Candidate],
    seed: int,
) -> dict[str, Any]:
    """The model against the truth on the later period: every (customer, rep) pair's
    probability compared, and outcomes drawn from the truth for a random rep per customer."""
    rng = random.Random(seed)
    customers = [c for day in days for c in day]
    model_p = scorer.probabilities(customers, candidates)
    true_p = truth(customers, [c.rep_id for c in candidates])
    pick = np.array([rng.randrange(len(candidates)) for _ in customers])
    rows = np.arange(len(customers))
    outcomes = np.array([rng.random() < p for p in true_p[rows, pick]], dtype=np.int8)
    measured = measure(outcomes, model_p[rows, pick])
    return {
        "auc": measured["auc"],
        "auc_of_truth": measure(outcomes, true_p[rows, pick])["auc"],
        "brier": measured["brier"],
        "calibration_error": measured["calibration_error"],
        "mean_gap_to_truth": round(float(np.abs(model_p - true_p).mean()), 4),
        "rank_correlation_within_customer": round(_within(model_p, true_p), 3),
    }


def _within(model_p: np.ndarray, true_p: np.ndarray) -> float:
    """Mean correlation, across customers, of the reps' model and true probabilities: does
    the model rank the reps for a customer as the truth does?"""
    a = model_p - model_p.mean(axis=1, keepdims=True)
    b = true_p - true_p.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    valid = denominator > 0
    return float(((a * b).sum(axis=1)[valid] / denominator[valid]).mean())
