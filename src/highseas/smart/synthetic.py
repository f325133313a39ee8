"""A synthetic sales world with known truth: every rep's true probability of winning every
customer is the generator's, hidden from the model, which sees only the deals it produced.

P(win | rep, customer, workload) is the logistic of

- a base rate, and the customer's source, level and size;
- the rep's overall skill (seniors a little better);
- the rep's genuine strengths and weaknesses: one or two industries and one or two provinces
  where they win clearly more, an industry where they win less, and small noise on every
  (rep, industry) and (rep, province) cell;
- a team's flavour per industry (reps learn from each other);
- a small penalty per open deal (an overloaded rep follows up less).

The demo uses the same world for its history (``highseas.demo``), so the demo's model has
something real to find.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from highseas.smart.features import Example, RepFacts, customer_values

INDUSTRIES = ("制造", "金融", "零售", "教育", "医疗", "物流", "互联网", "房地产", "能源", "农业")
PROVINCES = ("广东", "浙江", "江苏", "上海", "北京", "山东", "四川", "湖北", "福建", "河南")
SOURCES = {
    "referral": 0.7,
    "partner": 0.4,
    "exhibition": 0.2,
    "web_form": 0.0,
    "advertising": -0.2,
    "import": -0.3,
    "cold_call": -0.6,
}
LEVELS = {"A": 0.5, "B": 0.0, "C": -0.4}
BANDS = ("lt1m", "1m-10m", "10m-100m", "100m-1b", "gt1b")
BASE = -1.3
WORKLOAD_PENALTY = 0.01


@dataclass
class Rep:
    rep_id: int
    team: int
    level: str
    hired: datetime
    skill: float
    industry: dict[str, float] = field(default_factory=dict)
    province: dict[str, float] = field(default_factory=dict)

    def facts(self, at: datetime, workload: int = 0) -> RepFacts:
        return RepFacts(self.rep_id, self.team, self.level, (at - self.hired).days, workload)

    def strengths(self, threshold: float = 0.4) -> list[str]:
        """The segments where this rep is clearly strong (for the demo's story)."""
        return [k for k, v in {**self.industry, **self.province}.items() if v >= threshold]


@dataclass
class World:
    seed: int
    reps: list[Rep]
    team_flavour: dict[tuple[int, str], float]
    rng: random.Random

    @classmethod
    def build(cls, seed: int = 7, reps: int = 60, teams: int = 6, *, start: datetime) -> World:
        rng = random.Random(seed)
        found = []
        for i in range(reps):
            rep = Rep(
                rep_id=i + 1,
                team=i % teams + 1,
                level="senior" if rng.random() < 0.35 else "junior",
                hired=start - timedelta(days=rng.randint(30, 1500)),
                skill=rng.gauss(0, 0.3),
            )
            rep.skill += 0.15 if rep.level == "senior" else 0.0
            rep.industry = {ind: rng.gauss(0, 0.15) for ind in INDUSTRIES}
            rep.province = {prov: rng.gauss(0, 0.15) for prov in PROVINCES}
            for ind in rng.sample(INDUSTRIES, rng.choice((1, 2))):
                rep.industry[ind] += rng.uniform(0.7, 1.3)
            weak = rng.choice(INDUSTRIES)
            rep.industry[weak] -= rng.uniform(0.4, 0.8)
            for prov in rng.sample(PROVINCES, rng.choice((1, 2))):
                rep.province[prov] += rng.uniform(0.4, 0.9)
            found.append(rep)
        flavour = {(t, ind): rng.gauss(0, 0.2) for t in range(1, teams + 1) for ind in INDUSTRIES}
        return cls(seed, found, flavour, rng)

    @property
    def by_id(self) -> dict[int, Rep]:
        return {rep.rep_id: rep for rep in self.reps}

    # --- customers --------------------------------------------------------------------------

    def customer(self) -> dict[str, object]:
        rng = self.rng
        employees = int(math.exp(rng.gauss(4.0, 1.4)))
        band = BANDS[min(4, max(0, int(math.log10(max(employees, 1)) + rng.gauss(0, 0.6))))]
        return {
            "industry": rng.choices(INDUSTRIES, weights=(5, 3, 4, 2, 2, 2, 3, 1, 1, 1))[0],
            "province": rng.choices(PROVINCES, weights=(5, 4, 4, 3, 3, 2, 2, 2, 2, 1))[0],
            "employees": employees,
            "revenue_band": band,
            "source": rng.choices(list(SOURCES), weights=(2, 1, 2, 4, 2, 1, 3))[0],
            "level": rng.choices(list(LEVELS), weights=(2, 5, 3))[0],
        }

    # --- the truth --------------------------------------------------------------------------

    def logit(self, customer: Mapping[str, object], rep: Rep, workload: int = 0) -> float:
        employees = customer.get("employees")
        size = 0.1 * math.log10(employees) if isinstance(employees, int) and employees > 0 else 0
        return (
            BASE
            + SOURCES.get(str(customer.get("source")), 0.0)
            + LEVELS.get(str(customer.get("level")), 0.0)
            + size
            + rep.skill
            + rep.industry.get(str(customer.get("industry")), 0.0)
            + rep.province.get(str(customer.get("province")), 0.0)
            + self.team_flavour.get((rep.team, str(customer.get("industry"))), 0.0)
            - WORKLOAD_PENALTY * workload
        )

    def probability(self, customer: Mapping[str, object], rep: Rep, workload: int = 0) -> float:
        return 1.0 / (1.0 + math.exp(-self.logit(customer, rep, workload)))

    def matrix(
        self,
        customers: Sequence[Mapping[str, object]],
        rep_ids: Sequence[int],
        workload: Mapping[int, int] | None = None,
    ) -> np.ndarray:
        reps, load = self.by_id, workload or {}
        return np.array(
            [[self.probability(c, reps[r], load.get(r, 0)) for r in rep_ids] for c in customers],
            dtype=np.float64,
        ).reshape(len(customers), len(rep_ids))

    # --- history ------------------------------------------------------------------------------

    def history(
        self, start: datetime, days: int, per_day: int, *, decide_after: int = 45
    ) -> list[Example]:
        """Deals of customers given out at random (as round-robin over a shuffled team would),
        each decided ``decide_after`` days (±) later by a draw from the true probability."""
        rng = self.rng
        open_until: dict[int, list[datetime]] = {rep.rep_id: [] for rep in self.reps}
        examples = []
        for day in range(days):
            at = start + timedelta(days=day)
            for _ in range(per_day):
                rep = rng.choice(self.reps)
                pending = [t for t in open_until[rep.rep_id] if t > at]
                open_until[rep.rep_id] = pending
                customer = self.customer()
                won = rng.random() < self.probability(customer, rep, len(pending))
                decided = at + timedelta(days=max(1, int(rng.gauss(decide_after, 15))))
                pending.append(decided)
                examples.append(
                    Example(
                        rep.facts(at, len(pending) - 1), customer_values(customer), won, decided
                    )
                )
        return examples
