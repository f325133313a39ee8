"""The win model, P(win | rep, customer): a logistic regression with interactions, trained on
decided deals and stored as plain numbers (no Django).

Every term of the model is a *block* of coefficients indexed by a code:

- the customer's six dimensions (industry, province, size, revenue band, source, level):
  segment rates;
- the rep, their team, level, tenure and workload at the time: the rep's overall record;
- the rep × each customer dimension, and the team × industry and × province: the rep's (and
  the team's) record with similar customers.

The L2 penalty shrinks every coefficient toward zero, so a rep × segment cell with three deals
barely moves the prediction away from the rep's overall rate, their team's rate with that
segment and the segment's own rate: hierarchical smoothing, with the strength ``C`` chosen on a
time-based split of the training data. Code 0 of every block is "not seen in training" and
keeps a zero coefficient, so a new rep is scored by their team and level, a new industry by
the rest.

The trained model is a dictionary of numbers and labels (``to_json``): reading it back runs no
code, unlike a pickle, and it can be read, diffed and audited.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, diags
from sklearn.linear_model import LogisticRegression

from highseas.smart.features import DIMENSIONS, REP_DIMENSIONS, TEAM_DIMENSIONS, Example, RepFacts

FORMAT = 1
MIN_SPREAD = 0.05
REP_TERMS = ("rep", "team", "level", "tenure", "load")
INTERACTIONS = (("rx", "rep", REP_DIMENSIONS), ("tx", "team", TEAM_DIMENSIONS))
Array = NDArray[np.float64]
Codes = NDArray[np.int64]


@dataclass
class Vocabulary:
    """Labels of one kind of value, coded from 1 (0: not seen in training)."""

    labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.codes = {label: code for code, label in enumerate(self.labels, start=1)}

    def code(self, label: str) -> int:
        return self.codes.get(label, 0)

    def learn(self, label: str) -> int:
        if label not in self.codes:
            self.labels.append(label)
            self.codes[label] = len(self.labels)
        return self.codes[label]

    @property
    def size(self) -> int:
        return len(self.labels) + 1


def _rep_labels(facts: RepFacts) -> dict[str, str]:
    return {
        "rep": str(facts.rep),
        "team": "" if facts.team is None else str(facts.team),
        "level": facts.level,
        "tenure": facts.tenure(),
        "load": facts.load(),
    }


@dataclass
class WinModel:
    intercept: float
    vocabularies: dict[str, Vocabulary]
    blocks: dict[str, Array]

    # --- codes ------------------------------------------------------------------------------

    def customer_codes(self, customers: Sequence[tuple[str, ...]]) -> dict[str, Codes]:
        found = {}
        for i, name in enumerate(DIMENSIONS):
            vocabulary = self.vocabularies[name]
            found[name] = np.fromiter(
                (vocabulary.code(c[i]) for c in customers), dtype=np.int64, count=len(customers)
            )
        return found

    def rep_codes(self, reps: Sequence[RepFacts]) -> dict[str, Codes]:
        labels = [_rep_labels(r) for r in reps]
        return {
            term: np.fromiter(
                (self.vocabularies[term].code(x[term]) for x in labels),
                dtype=np.int64,
                count=len(reps),
            )
            for term in REP_TERMS
        }

    # --- scores ------------------------------------------------------------------------------

    def rep_part(self, reps: Sequence[RepFacts]) -> tuple[dict[str, Codes], Array]:
        """The reps' codes and the part of the logit that depends on the rep alone (the same
        for every customer: worth keeping when the same reps are scored again)."""
        r = self.rep_codes(reps)
        by_rep = np.zeros(len(reps))
        for term in REP_TERMS:
            by_rep += self.blocks[f"r:{term}"][r[term]]
        return r, by_rep

    def logits(
        self,
        customers: Sequence[tuple[str, ...]],
        reps: Sequence[RepFacts],
        rep_part: tuple[dict[str, Codes], Array] | None = None,
    ) -> Array:
        """One row per customer, one column per rep."""
        c = self.customer_codes(customers)
        r, by_rep = rep_part or self.rep_part(reps)
        by_customer = np.full(len(customers), self.intercept)
        for name in DIMENSIONS:
            by_customer += self.blocks[f"c:{name}"][c[name]]
        total = by_customer[:, None] + by_rep[None, :]
        for prefix, owner, names in INTERACTIONS:
            for name in names:
                codes = r[owner][None, :] * self.vocabularies[name].size + c[name][:, None]
                total += self.blocks[f"{prefix}:{name}"][codes]
        return total

    def probabilities(
        self,
        customers: Sequence[tuple[str, ...]],
        reps: Sequence[RepFacts],
        rep_part: tuple[dict[str, Codes], Array] | None = None,
    ) -> Array:
        probabilities: Array = 1.0 / (1.0 + np.exp(-self.logits(customers, reps, rep_part)))
        return probabilities

    def predict(self, examples: Sequence[Example]) -> Array:
        """P(win) of each example's own rep and customer."""
        if not examples:
            return np.zeros(0)
        c = self.customer_codes([e.customer for e in examples])
        r = self.rep_codes([e.rep for e in examples])
        total = np.full(len(examples), self.intercept)
        for code_of, prefix in _terms(self.vocabularies):
            total += self.blocks[prefix][code_of(c, r)]
        probabilities: Array = 1.0 / (1.0 + np.exp(-total))
        return probabilities

    # --- storage ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "intercept": self.intercept,
            "vocabularies": {name: v.labels for name, v in self.vocabularies.items()},
            "blocks": {name: [round(float(x), 6) for x in b] for name, b in self.blocks.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WinModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown win model format {data.get('format')!r}")
        return cls(
            float(data["intercept"]),
            {name: Vocabulary(list(labels)) for name, labels in data["vocabularies"].items()},
            {name: np.asarray(values, dtype=np.float64) for name, values in data["blocks"].items()},
        )


CodeOf = Any  # (customer codes, rep codes) -> codes


def _terms(vocabularies: dict[str, Vocabulary]) -> list[tuple[CodeOf, str]]:
    """Every block with how one example's code in it is found."""
    terms: list[tuple[CodeOf, str]] = []
    for name in DIMENSIONS:
        terms.append((lambda c, r, n=name: c[n], f"c:{name}"))
    for term in REP_TERMS:
        terms.append((lambda c, r, t=term: r[t], f"r:{term}"))
    for prefix, owner, names in INTERACTIONS:
        for name in names:
            width = vocabularies[name].size
            terms.append(
                (lambda c, r, n=name, o=owner, w=width: r[o] * w + c[n], f"{prefix}:{name}")
            )
    return terms


def _block_sizes(vocabularies: dict[str, Vocabulary]) -> dict[str, int]:
    sizes = {f"c:{name}": vocabularies[name].size for name in DIMENSIONS}
    sizes |= {f"r:{term}": vocabularies[term].size for term in REP_TERMS}
    for prefix, owner, names in INTERACTIONS:
        for name in names:
            sizes[f"{prefix}:{name}"] = vocabularies[owner].size * vocabularies[name].size
    return sizes


def vocabularies_of(examples: Sequence[Example]) -> dict[str, Vocabulary]:
    found = {name: Vocabulary() for name in (*DIMENSIONS, *REP_TERMS)}
    for example in examples:
        for name, label in zip(DIMENSIONS, example.customer, strict=True):
            found[name].learn(label)
        for term, label in _rep_labels(example.rep).items():
            found[term].learn(label)
    return found


def design(
    examples: Sequence[Example], vocabularies: dict[str, Vocabulary]
) -> tuple[csr_matrix, dict[str, int]]:
    """The one-hot design matrix (one column per code of every block) and block offsets."""
    shell = WinModel(0.0, vocabularies, {})
    c = shell.customer_codes([e.customer for e in examples])
    r = shell.rep_codes([e.rep for e in examples])
    sizes = _block_sizes(vocabularies)
    offsets, at = {}, 0
    for name, size in sizes.items():
        offsets[name] = at
        at += size
    columns = [offsets[prefix] + code_of(c, r) for code_of, prefix in _terms(vocabularies)]
    n = len(examples)
    indices = np.stack(columns, axis=1).ravel()
    matrix = csr_matrix(
        (np.ones(indices.size), indices, np.arange(0, indices.size + 1, len(columns))),
        shape=(n, at),
    )
    return matrix, offsets


def fit(examples: Sequence[Example], strength: float) -> WinModel:
    """The model of ``examples``: each interaction block's spread is estimated first
    (``spreads``), so the penalty shrinks each block as much as its evidence warrants; then
    one L2-penalized logistic regression with inverse strength ``strength`` (C)."""
    vocabularies = vocabularies_of(examples)
    matrix, offsets = design(examples, vocabularies)
    labels = np.fromiter((e.won for e in examples), dtype=np.int8, count=len(examples))
    sizes = _block_sizes(vocabularies)
    scale = np.ones(matrix.shape[1])
    for name, spread in spreads(matrix, labels, offsets, sizes).items():
        scale[offsets[name] : offsets[name] + sizes[name]] = spread
    regression = LogisticRegression(C=strength, max_iter=1000, tol=1e-5)
    regression.fit(matrix @ diags(scale), labels)
    weights = regression.coef_[0] * scale
    blocks = {}
    for name, offset in offsets.items():
        block = np.array(weights[offset : offset + sizes[name]], dtype=np.float64)
        block[_unseen(name, vocabularies)] = 0.0
        blocks[name] = block
    return WinModel(float(regression.intercept_[0]), vocabularies, blocks)


def spreads(
    matrix: csr_matrix, labels: NDArray[np.int8], offsets: dict[str, int], sizes: dict[str, int]
) -> dict[str, float]:
    """How far each interaction block's cells truly spread (their standard deviation on the
    logit scale), by the method of moments on the residuals of the main effects: a cell's
    one-step effect ``e = Σ(y − p) / Σ p(1 − p)`` varies by the true spread plus its sampling
    variance ``1 / Σ p(1 − p)``, so the spread is what is left once that is taken off. This is
    the empirical-Bayes step of hierarchical smoothing: a block of noise gets a small spread
    and is shrunk hard, a block of genuine strengths keeps them."""
    main = np.zeros(matrix.shape[1], dtype=bool)
    for name, offset in offsets.items():
        if name.startswith(("c:", "r:")):
            main[offset : offset + sizes[name]] = True
    base = LogisticRegression(C=1.0, max_iter=500, tol=1e-5).fit(matrix[:, main], labels)
    p = base.predict_proba(matrix[:, main])[:, 1]
    gradient = matrix.T @ (labels - p)
    curvature = matrix.T @ (p * (1 - p))
    found = {}
    for name, offset in offsets.items():
        if name.startswith(("c:", "r:")):
            continue
        g = gradient[offset : offset + sizes[name]]
        h = curvature[offset : offset + sizes[name]]
        seen = h > 1.0
        if not seen.any():
            found[name] = MIN_SPREAD
            continue
        effect, variance = g[seen] / h[seen], 1.0 / h[seen]
        moment = float(np.sum(h[seen] * (effect**2 - variance)) / np.sum(h[seen]))
        found[name] = max(MIN_SPREAD, math.sqrt(max(moment, 0.0)))
    return found


def _unseen(name: str, vocabularies: dict[str, Vocabulary]) -> Any:
    """The codes of a block that mean "not seen" (code 0 of either side)."""
    kind, dimension = name.split(":")
    if kind in ("c", "r"):
        return [0]
    owner = "rep" if kind == "rx" else "team"
    width = vocabularies[dimension].size
    rows = np.arange(vocabularies[owner].size)
    return np.unique(np.concatenate([rows * width, np.arange(width)]))
