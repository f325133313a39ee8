"""Training with a time-based holdout (no Django):

1. Below ``MIN_DEALS`` decided deals, or ``MIN_EACH`` wins or losses, there is nothing to learn
   from: no model, and the reason (``thin_data``) — the strategy then falls back to
   ``performance``.
2. The deals decided in the last ``HOLDOUT`` share of the period are held out; the rest train.
3. The regularization strength is chosen the same way inside the training part (its own last
   share validates each candidate by log loss), so the holdout never chooses anything.
4. The holdout measures the model: AUC, Brier score, log loss and a reliability table (ten
   bins of predicted probability: how many deals, the mean prediction, the share won), and
   the AUC of the reps' own win rates (what ``performance`` knows) for comparison.
5. The model kept is fitted on every deal with the chosen strength.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from highseas.smart.features import Example
from highseas.smart.learn import WinModel, fit

MIN_DEALS = 200
MIN_EACH = 20
HOLDOUT = 0.2
GRID = (0.3, 1.0, 3.0)
BINS = 10


@dataclass
class Trained:
    model: WinModel | None
    deals: int
    won: int
    since: datetime | None
    until: datetime | None
    fallback: str = ""  # "" or why no model is used
    metrics: dict[str, Any] = field(default_factory=dict)
    strength: float | None = None


def split_by_time(examples: Sequence[Example], share: float) -> tuple[list[Example], list[Example]]:
    """The earlier ``1 - share`` and the later ``share`` of the examples, by decision time."""
    ordered = sorted(examples, key=lambda e: e.at)
    cut = ordered[min(len(ordered) - 1, int(len(ordered) * (1 - share)))].at
    return [e for e in ordered if e.at < cut], [e for e in ordered if e.at >= cut]


def _labels(examples: Sequence[Example]) -> np.ndarray:
    return np.fromiter((e.won for e in examples), dtype=np.int8, count=len(examples))


def _both_classes(examples: Sequence[Example]) -> bool:
    return len({e.won for e in examples}) == 2


def choose_strength(examples: Sequence[Example]) -> float:
    early, late = split_by_time(examples, HOLDOUT)
    if not _both_classes(early) or not _both_classes(late):
        return GRID[1]
    losses = {
        strength: log_loss(_labels(late), fit(early, strength).predict(late), labels=[0, 1])
        for strength in GRID
    }
    return min(losses, key=lambda s: (losses[s], s))


def calibration(labels: np.ndarray, predicted: np.ndarray) -> list[dict[str, Any]]:
    table = []
    for i in range(BINS):
        low, high = i / BINS, (i + 1) / BINS
        inside = (predicted >= low) & ((predicted < high) | (i == BINS - 1))
        count = int(inside.sum())
        if count:
            table.append(
                {
                    "low": low,
                    "high": high,
                    "n": count,
                    "predicted": round(float(predicted[inside].mean()), 4),
                    "observed": round(float(labels[inside].mean()), 4),
                }
            )
    return table


def rep_rate_scores(train: Sequence[Example], holdout: Sequence[Example]) -> np.ndarray:
    """Each holdout deal scored by its rep's smoothed win rate in training (``performance``)."""
    won: dict[int, int] = defaultdict(int)
    decided: dict[int, int] = defaultdict(int)
    for example in train:
        decided[example.rep.rep] += 1
        won[example.rep.rep] += example.won
    return np.array(
        [(won[e.rep.rep] + 1) / (decided[e.rep.rep] + 2) for e in holdout], dtype=np.float64
    )


def measure(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    table = calibration(labels, predicted)
    n = max(1, len(labels))
    return {
        "auc": round(float(roc_auc_score(labels, predicted)), 4),
        "brier": round(float(brier_score_loss(labels, predicted)), 4),
        "log_loss": round(float(log_loss(labels, predicted, labels=[0, 1])), 4),
        "base_rate": round(float(labels.mean()), 4),
        "calibration_error": round(
            sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in table) / n, 4
        ),
        "calibration": table,
    }


def train(examples: Sequence[Example]) -> Trained:
    """The model of ``examples`` with its holdout measures, or why there is none."""
    won = sum(e.won for e in examples)
    since = min((e.at for e in examples), default=None)
    until = max((e.at for e in examples), default=None)
    trained = Trained(None, len(examples), won, since, until)
    if len(examples) < MIN_DEALS or min(won, len(examples) - won) < MIN_EACH:
        trained.fallback = "thin_data"
        return trained
    early, holdout = split_by_time(examples, HOLDOUT)
    if not _both_classes(early) or not _both_classes(holdout):
        trained.fallback = "thin_data"
        return trained
    strength = choose_strength(early)
    labels = _labels(holdout)
    metrics = measure(labels, fit(early, strength).predict(holdout))
    metrics["baseline_auc"] = round(
        float(roc_auc_score(labels, rep_rate_scores(early, holdout))), 4
    )
    metrics["holdout"] = len(holdout)
    metrics["holdout_since"] = holdout[0].at.isoformat()
    trained.metrics = metrics
    trained.strength = strength
    trained.model = fit(examples, strength)
    return trained
