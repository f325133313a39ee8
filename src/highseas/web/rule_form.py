"""The rule editor's form: name, order, pool, switch, target and strategy, and the builder.

``RuleForm`` only reads the post into the values ``routing.rules.save_rule`` takes (the same
as ``POST /api/v1/assignment-rules/``); the service validates them and says what is wrong,
by JSON path, which the form puts next to the field or condition row it is about.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from highseas.engine.targets import Strategy
from highseas.routing.drafts import TargetNames
from highseas.routing.models import AssignmentRule
from highseas.web.rule_builder import Builder, tree_from_json

STRATEGY_LABELS = {
    Strategy.ROUND_ROBIN.value: _("Round robin"),
    Strategy.WEIGHTED.value: _("Weighted"),
    Strategy.LEAST_LOADED.value: _("Least loaded"),
    Strategy.CAPACITY.value: _("Capacity (daily quota)"),
    Strategy.PERFORMANCE.value: _("Performance (win rate)"),
    Strategy.SKILL.value: _("Skill match"),
    Strategy.SMART.value: _("Smart (learned model)"),
}
TARGET_KINDS = ("user", "team", "pool")


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def _number(text: str) -> float | str:
    """A number as typed, or the text itself for the validation to name."""
    try:
        return float(text)
    except ValueError:
        return text


@dataclass
class TargetChoice:
    kind: str = "team"
    user: int | None = None
    team: int | None = None
    pool: int | None = None
    strategy: str = Strategy.ROUND_ROBIN.value
    daily_quota: str = ""
    weights: dict[int, str] = field(default_factory=dict)
    fairness: str = ""  # smart: how far above an even split a rep may go

    @classmethod
    def of(cls, target: Mapping[str, Any]) -> TargetChoice:
        kind = next((k for k in TARGET_KINDS if k in target), "team")
        quota = target.get("daily_quota")
        return cls(
            kind=kind,
            user=target.get("user"),
            team=target.get("team"),
            pool=target.get("pool"),
            strategy=str(target.get("strategy", Strategy.ROUND_ROBIN.value)),
            daily_quota="" if quota is None else str(quota),
            weights={int(k): str(v) for k, v in (target.get("weights") or {}).items()},
            fairness="" if target.get("fairness") is None else str(target["fairness"]),
        )

    @classmethod
    def from_post(cls, data: Mapping[str, str]) -> TargetChoice:
        kind = data.get("target_kind", "team")
        return cls(
            kind=kind if kind in TARGET_KINDS else "team",
            user=_int(data.get("target_user")),
            team=_int(data.get("target_team")),
            pool=_int(data.get("target_pool")),
            strategy=data.get("strategy", Strategy.ROUND_ROBIN.value),
            daily_quota=data.get("daily_quota", "").strip(),
            weights={
                int(key.removeprefix("weight-")): value.strip()
                for key, value in data.items()
                if key.startswith("weight-") and key.removeprefix("weight-").isdigit()
            },
            fairness=data.get("fairness", "").strip(),
        )

    def target(self) -> dict[str, Any]:
        """The target JSON; what is not a number stays text, for the validation to name."""
        quota: Any = _int(self.daily_quota) if self.daily_quota.isdigit() else self.daily_quota
        if self.kind == "pool":
            return {"pool": self.pool}
        if self.kind == "user":
            found: dict[str, Any] = {"user": self.user}
            if self.daily_quota:
                found["daily_quota"] = quota
            return found
        found = {"team": self.team, "strategy": self.strategy}
        if self.daily_quota:
            found["daily_quota"] = quota
        if self.strategy == Strategy.WEIGHTED.value:
            found["weights"] = {
                str(rep): int(w) if w.isdigit() else w for rep, w in self.weights.items() if w
            }
        if self.strategy == Strategy.SMART.value and self.fairness:
            found["fairness"] = _number(self.fairness)
        return found


@dataclass
class RuleForm:
    name: str = ""
    position: str = "0"
    pool: int | None = None
    is_active: bool = True
    builder: Builder | None = field(default_factory=Builder.empty)
    conditions_json: str = ""
    target: TargetChoice = field(default_factory=TargetChoice)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, rule: AssignmentRule) -> RuleForm:
        builder = Builder.from_tree(rule.conditions)
        return cls(
            name=rule.name,
            position=str(rule.position),
            pool=rule.pool_id,
            is_active=rule.is_active,
            builder=builder,
            conditions_json=json.dumps(rule.conditions or {}, ensure_ascii=False, indent=2),
            target=TargetChoice.of(rule.target),
        )

    @classmethod
    def from_post(cls, data: Mapping[str, str]) -> RuleForm:
        json_mode = data.get("mode") == "json"
        return cls(
            name=data.get("name", "").strip(),
            position=data.get("position", "0").strip(),
            pool=_int(data.get("pool")),
            is_active=bool(data.get("is_active")),
            builder=None if json_mode else Builder.from_post(data),
            conditions_json=data.get("conditions_json", ""),
            target=TargetChoice.from_post(data),
        )

    def conditions(self) -> Any:
        if self.builder is not None:
            return self.builder.tree()[0]
        tree, error = tree_from_json(self.conditions_json)
        if error:
            self.errors.setdefault("conditions", []).append(str(error))
        return tree

    def values(self, pools: Mapping[int, Any]) -> dict[str, Any] | None:
        """The values for ``save_rule``, or ``None`` when the form itself cannot say them."""
        if not self.name:
            self.errors.setdefault("name", []).append(str(_("Give the rule a name.")))
        if not self.position.isdigit():
            self.errors.setdefault("position", []).append(str(_("Expected a whole number.")))
        conditions = self.conditions()
        if self.errors:
            return None
        return {
            "name": self.name,
            "position": int(self.position),
            "pool": pools.get(self.pool) if self.pool is not None else None,
            "is_active": self.is_active,
            "conditions": conditions,
            "target": self.target.target(),
        }

    def place_errors(self, errors: Mapping[str, list[str]]) -> None:
        """The service's refusal, by field; condition problems onto their rows."""
        for name, problems in errors.items():
            if name == "conditions" and self.builder is not None:
                self.builder.place_errors([str(p) for p in problems])
            else:
                self.errors.setdefault(name, []).extend(str(p) for p in problems)

    def fingerprint(self, values: Mapping[str, Any]) -> str:
        plain = {**values, "pool": getattr(values.get("pool"), "pk", None)}
        text = json.dumps(plain, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def describe_target(target: Mapping[str, Any], names: TargetNames) -> str:
    """Where a rule sends customers, in words."""
    if "user" in target:
        return str(_("to %(name)s") % {"name": names.users.get(target["user"], target["user"])})
    if "pool" in target:
        name = names.pools.get(target["pool"], target["pool"])
        return str(_("keep in %(name)s") % {"name": name})
    team = names.teams.get(target.get("team", 0), target.get("team"))
    strategy = STRATEGY_LABELS.get(str(target.get("strategy")), target.get("strategy"))
    return str(_("to team %(team)s, %(strategy)s") % {"team": team, "strategy": strategy})
