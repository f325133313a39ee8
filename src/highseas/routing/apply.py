"""Turning a plan's decisions into grants of ``pools.bulk_assign.assign_many``: routing decides,
``pools`` writes.

Each rule acts as itself (``pools.authority.RuleAuthority``: its pool, the reps its target
reaches), never as a user, so the ledger names it ``system:rule:<id>``. ``assign_many``
re-checks in its own transaction what the plan assumed (the customer is pooled, the caps and
daily quotas); a grant it refuses turns its decision into "left in the pool", with the
refusal's code as the reason and the refusal in the explanation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from highseas.engine.errors import HighSeasError
from highseas.engine.planner import Decision, Outcome, Rule
from highseas.engine.targets import TeamTarget, UserTarget
from highseas.pools import reasons
from highseas.pools.authority import RuleAuthority
from highseas.pools.bulk_assign import Grant, Loads, Unwritten, assign_many
from highseas.pools.models import Pool
from highseas.pools.reasons import Reason


def authorities(
    rules: Sequence[Rule], reps_by_team: Mapping[int, Sequence[int]]
) -> dict[int, RuleAuthority]:
    """Each rule as an authority: the reps its target reaches (none for a pool target)."""
    found: dict[int, RuleAuthority] = {}
    for rule in rules:
        target = rule.target
        if isinstance(target, TeamTarget):
            reach = frozenset(reps_by_team.get(target.team_id, ()))
        elif isinstance(target, UserTarget):
            reach = frozenset([target.user_id])
        else:
            reach = frozenset()
        found[rule.rule_id] = RuleAuthority(rule.rule_id, rule.name, rule.pool_id, reach)
    return found


def ledger_reason(rule_name: str, run_id: int) -> Reason:
    return Reason(reasons.RULE_ASSIGNED, {"rule": rule_name, "run": run_id})


def _rule_quota(rule: Rule, rep_id: int) -> int | None:
    target = rule.target
    if isinstance(target, TeamTarget):
        return target.quota_for(rep_id)
    return target.daily_quota if isinstance(target, UserTarget) else None


def refuse(decision: Decision, refusal: HighSeasError) -> None:
    """``pools`` refused what the plan decided: the customer stays pooled, and says why."""
    decision.outcome = Outcome.UNASSIGNED
    decision.reason = refusal.code.value
    decision.owner_id = None
    decision.explanation.update(
        outcome=Outcome.UNASSIGNED.value,
        reason=refusal.code.value,
        owner=None,
        refused={"code": refusal.code.value, **refusal.facts},
    )


class Applier:
    """The grants of one run: every rule's authority, quotas and ledger reason."""

    def __init__(
        self, rules: Sequence[Rule], reps_by_team: Mapping[int, Sequence[int]], run_id: int
    ) -> None:
        self.rules = {rule.rule_id: rule for rule in rules}
        self.authorities = authorities(rules, reps_by_team)
        self.reasons = {rule.rule_id: ledger_reason(rule.name, run_id) for rule in rules}
        self.told_as = f"assignment-run:{run_id}"  # the run's one notice per receiver

    def grant(self, decision: Decision) -> Grant:
        assert decision.owner_id is not None and decision.rule_id is not None
        rule_id = decision.rule_id
        return Grant(
            self.authorities[rule_id],
            decision.customer_id,
            decision.owner_id,
            self.reasons[rule_id],
            daily_quota=_rule_quota(self.rules[rule_id], decision.owner_id),
        )

    def apply(
        self,
        decisions: Sequence[Decision],
        now: datetime,
        locked: Mapping[int, Mapping[str, Any]] | None = None,
        pools: Mapping[int, Pool] | None = None,
        loads: Loads | None = None,
        unwritten: Unwritten | None = None,
    ) -> dict[int, HighSeasError]:
        """Grant every assigned decision in one ``assign_many`` (``locked``: the batch's rows,
        read pooled under their locks; ``loads``: the receivers, locked and counted in this
        transaction; ``unwritten``: the customers the caller inserts after the run, set owned
        in memory); a refused one is turned into "left in the pool". Returns the refusals
        by customer."""
        pairs = [(d, self.grant(d)) for d in decisions if d.outcome is Outcome.ASSIGNED]
        grants = [grant for _decision, grant in pairs]
        assign_many(
            grants,
            now=now,
            locked=locked,
            pools=pools,
            loads=loads,
            unwritten=unwritten,
            told_as=self.told_as,
        )
        refused: dict[int, HighSeasError] = {}
        for decision, grant in pairs:
            if grant.refusal is not None:
                refused[decision.customer_id] = grant.refusal
                refuse(decision, grant.refusal)
        return refused
