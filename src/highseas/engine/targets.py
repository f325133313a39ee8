"""Where a rule sends the customers it matches (SPEC §7 and §10):

- ``{"user": id}``: that rep, when eligible;
- ``{"team": id, "strategy": …}``: one of the team's reps, chosen by the strategy, with the
  optional ``"weights": {user_id: n}`` (weighted; 1 when not listed, 0 excludes),
  ``"daily_quota": n`` (per rep and day) and ``"quotas": {user_id: n}`` (per-rep quota);
- ``{"pool": id}``: nobody: the customer stays in its pool, and later rules are not tried.

A user target may also carry ``"daily_quota"``. The ``capacity`` strategy needs a daily
quota, since it fills reps in proportion to what is left of it. The ``smart`` strategy takes
``"fairness"``: how far above an even split of the day's customers a rep may go (0.25, the
default, is 25%; 0 is an even split), set by the manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from highseas.engine.conditions import Problem


class Strategy(StrEnum):
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"
    LEAST_LOADED = "least_loaded"
    CAPACITY = "capacity"
    PERFORMANCE = "performance"
    SKILL = "skill"
    SMART = "smart"


AVAILABLE = tuple(s.value for s in Strategy)
DEFAULT_FAIRNESS = 0.25  # smart: no rep more than 25% above an even split of the day
MAX_FAIRNESS = 10.0
_KEYS = {
    "user": {"user", "daily_quota"},
    "pool": {"pool"},
    "team": {"team", "strategy", "weights", "daily_quota", "quotas", "fairness"},
}


@dataclass(frozen=True, slots=True)
class UserTarget:
    user_id: int
    daily_quota: int | None = None


@dataclass(frozen=True, slots=True)
class PoolTarget:
    pool_id: int


@dataclass(frozen=True, slots=True)
class TeamTarget:
    team_id: int
    strategy: Strategy
    weights: Mapping[int, int] = field(default_factory=dict)
    daily_quota: int | None = None
    quotas: Mapping[int, int] = field(default_factory=dict)
    above_mean: float = DEFAULT_FAIRNESS  # smart: the fairness bound

    def quota_for(self, rep_id: int) -> int | None:
        return self.quotas.get(rep_id, self.daily_quota)


Target = UserTarget | TeamTarget | PoolTarget


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _per_rep_problems(name: str, value: object) -> list[Problem]:
    path = f"$.{name}"
    if not isinstance(value, Mapping):
        return [Problem(path, f'"{name}" takes an object {{user_id: whole number}}.')]
    problems = []
    for key, number in value.items():
        if not str(key).isdigit() or int(key) < 1:
            problems.append(Problem(f"{path}.{key}", "Keys are user ids."))
        elif not _is_count(number):
            problems.append(Problem(f"{path}.{key}", "Expected a whole number >= 0."))
    return problems


def validate_target(target: object) -> list[Problem]:
    """Every problem of a target's shape; whether the ids exist is the caller's to check."""
    if not isinstance(target, Mapping):
        return [Problem("$", 'Expected {"user": id}, {"team": id, "strategy": …} or {"pool": id}.')]
    kinds = [kind for kind in _KEYS if kind in target]
    if len(kinds) != 1:
        return [Problem("$", 'Name exactly one of "user", "team" or "pool".')]
    kind = kinds[0]
    problems = [
        Problem(f"$.{key}", f"Unknown key for a {kind} target.")
        for key in sorted(map(str, target))
        if key not in _KEYS[kind]
    ]
    if not _is_id(target[kind]):
        problems.append(Problem(f"$.{kind}", "Expected an id."))
    quota = target.get("daily_quota")
    if quota is not None and not (_is_count(quota) and quota > 0):
        problems.append(Problem("$.daily_quota", "Expected a whole number >= 1, or null."))
    if kind == "team":
        problems += _team_problems(target)
    return problems


def _team_problems(target: Mapping[str, Any]) -> list[Problem]:
    strategy = target.get("strategy")
    if strategy not in AVAILABLE:
        return [
            Problem(
                "$.strategy", f"Unknown strategy {strategy!r}; use one of {', '.join(AVAILABLE)}."
            )
        ]
    problems = []
    for name in ("weights", "quotas"):
        if name in target:
            problems += _per_rep_problems(name, target[name])
    has_quota = target.get("daily_quota") is not None or bool(target.get("quotas"))
    if strategy == Strategy.CAPACITY.value and not has_quota:
        problems.append(Problem("$.daily_quota", 'The "capacity" strategy needs a daily quota.'))
    if "fairness" in target:
        problems += _fairness_problems(strategy, target["fairness"])
    return problems


def _fairness_problems(strategy: object, value: object) -> list[Problem]:
    if strategy != Strategy.SMART.value:
        return [Problem("$.fairness", 'Only the "smart" strategy takes a fairness bound.')]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not 0 <= value <= MAX_FAIRNESS:  # type: ignore[operator]
        return [
            Problem(
                "$.fairness",
                f"Expected a number from 0 to {MAX_FAIRNESS:g}: how far above an even split "
                "a rep may go (0.25 is 25%).",
            )
        ]
    return []


def parse_target(target: Mapping[str, Any]) -> Target:
    """The plain form of a valid target."""
    if "user" in target:
        return UserTarget(int(target["user"]), target.get("daily_quota"))
    if "pool" in target:
        return PoolTarget(int(target["pool"]))
    return TeamTarget(
        team_id=int(target["team"]),
        strategy=Strategy(target["strategy"]),
        weights={int(k): int(v) for k, v in (target.get("weights") or {}).items()},
        daily_quota=target.get("daily_quota"),
        quotas={int(k): int(v) for k, v in (target.get("quotas") or {}).items()},
        above_mean=float(target.get("fairness", DEFAULT_FAIRNESS)),
    )
