"""The engine's ``WinScorer`` over a trained model: P(win) of customers × reps, and the rep's
record behind a decision (no Django)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from highseas.engine.conditions import Fields
from highseas.engine.routing import Candidate
from highseas.smart.features import RepFacts, customer_values
from highseas.smart.learn import Array, WinModel
from highseas.smart.record import Record

RepLoader = Callable[[Sequence[int]], Mapping[int, RepFacts]]


class ModelScorer:
    """Scores with ``model``; a rep's team, level, tenure and workload come from ``reps``, or
    are read by ``load`` the first time a rep is scored (a rep found nowhere is scored by id
    alone, which the model treats as a rep it has not seen)."""

    def __init__(
        self,
        model: WinModel,
        version: int,
        reps: Mapping[int, RepFacts] | None = None,
        record: Record | None = None,
        load: RepLoader | None = None,
    ) -> None:
        self.model = model
        self._version = version
        self.reps = dict(reps or {})
        self.history = record or Record()
        self.load = load
        self.parts: dict[tuple[int, ...], Any] = {}  # the rep part of the logits, per roster
        self.values: dict[int, tuple[str, ...]] = {}  # the last batch's customers, by id()

    @property
    def version(self) -> int:
        return self._version

    def facts(self, rep_ids: Sequence[int]) -> list[RepFacts]:
        missing = [rep for rep in rep_ids if rep not in self.reps]
        if missing and self.load is not None:
            self.reps.update(self.load(missing))
        return [self.reps.get(rep) or RepFacts(rep) for rep in rep_ids]

    def probabilities(self, customers: Sequence[Fields], reps: Sequence[Candidate]) -> Array:
        if not customers or not reps:
            return np.zeros((len(customers), len(reps)))
        ids = tuple(r.rep_id for r in reps)
        part = self.parts.get(ids)
        if part is None:
            part = self.parts[ids] = self.model.rep_part(self.facts(list(ids)))
        values = [customer_values(c) for c in customers]
        self.values = {id(c): v for c, v in zip(customers, values, strict=True)}
        return self.model.probabilities(values, [], part)

    def record(self, customer: Fields, rep: Candidate) -> dict[str, Any] | None:
        values = self.values.get(id(customer)) or customer_values(customer)
        return self.history.of_rep(rep.rep_id, values)


class TruthScorer:
    """A scorer that knows the true probabilities (the evaluation's oracle)."""

    def __init__(self, truth: Any, version: int = 0) -> None:
        self.truth = truth
        self._version = version

    @property
    def version(self) -> int:
        return self._version

    def probabilities(self, customers: Sequence[Fields], reps: Sequence[Candidate]) -> Array:
        return np.asarray(self.truth(customers, [r.rep_id for r in reps]), dtype=np.float64)

    def record(self, customer: Fields, rep: Candidate) -> dict[str, Any] | None:
        return None
