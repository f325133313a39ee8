"""Saving and deleting assignment rules: validation with JSON paths, and who may touch which.

1. Admins manage every rule. Managers manage the rules of pools they belong to, and only
   with targets inside their authority: a user or a team of their subtree, a pool they
   belong to. Rules for every pool (no pool) are the admins'. Reps manage none.
2. ``conditions`` must pass ``engine.conditions.validate`` (with the enumerated fields'
   values); ``target`` must pass ``engine.targets.validate_target`` and name a user, team
   or pool that exists; weights and quotas name reps of the target team.
3. A refusal is ``validation_error`` with ``errors: {"conditions": ["$.all[0].value: …"],
   "target": […]}``, or ``permission_denied``; nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.models import Team, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerKind, CustomerLevel, RevenueBand, Source
from highseas.engine.conditions import validate
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.targets import (
    PoolTarget,
    TeamTarget,
    UserTarget,
    parse_target,
    validate_target,
)
from highseas.pools.models import Pool
from highseas.routing.models import AssignmentRule
from highseas.routing.snapshots import team_reps

CHOICES = {
    "level": CustomerLevel.values,
    "kind": CustomerKind.values,
    "source": Source.values,
    "revenue_band": RevenueBand.values,
}
EDITABLE = ("name", "position", "pool", "is_active", "conditions", "target")


def may_manage_rules(viewer: Viewer) -> bool:
    return viewer.is_admin or viewer.user.is_manager


def require_rule_manager(viewer: Viewer) -> None:
    if not may_manage_rules(viewer):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only managers and admins manage assignment rules.")
        )


def rules_visible_to(viewer: Viewer) -> QuerySet[AssignmentRule]:
    rules = AssignmentRule.objects.select_related("pool").order_by("position", "id")
    if viewer.is_admin:
        return rules
    if not viewer.user.is_manager:
        return rules.none()
    return rules.filter(Q(pool__isnull=True) | Q(pool_id__in=viewer.member_pool_ids))


def _require_pool_authority(viewer: Viewer, pool: Pool | None) -> None:
    if viewer.is_admin:
        return
    if pool is None:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only admins manage rules that apply to every pool.")
        )
    if pool.pk not in viewer.member_pool_ids:
        raise HighSeasError(ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."))


def _target_problems(viewer: Viewer, raw: dict[str, Any]) -> list[str]:
    """What is wrong with a well-formed target's ids, for this viewer."""
    target = parse_target(raw)
    if isinstance(target, UserTarget):
        user = User.objects.filter(pk=target.user_id).first()
        if user is None:
            return [f"$.user: no user {target.user_id}."]
        if not viewer.is_admin and not viewer.users().filter(pk=user.pk).exists():
            return ["$.user: you cannot route customers to that user."]
        return []
    if isinstance(target, PoolTarget):
        if not Pool.objects.filter(pk=target.pool_id).exists():
            return [f"$.pool: no pool {target.pool_id}."]
        if not viewer.is_admin and target.pool_id not in viewer.member_pool_ids:
            return ["$.pool: you are not a member of that pool."]
        return []
    return _team_problems(viewer, target)


def _team_problems(viewer: Viewer, target: TeamTarget) -> list[str]:
    if not Team.objects.filter(pk=target.team_id).exists():
        return [f"$.team: no team {target.team_id}."]
    if not viewer.is_admin and target.team_id not in viewer.subtree_team_ids:
        return ["$.team: you can only route customers to teams you manage."]
    reps = set(team_reps([target.team_id]).get(target.team_id, []))
    return [
        f"$.{name}.{rep}: user {rep} is not a rep of this team."
        for name, per_rep in (("weights", target.weights), ("quotas", target.quotas))
        for rep in sorted(per_rep)
        if rep not in reps
    ]


def check_rule(viewer: Viewer, values: dict[str, Any]) -> None:
    """Refuse a rule the viewer may not save, or one that is not valid (module rules 1–3)."""
    require_rule_manager(viewer)
    _require_pool_authority(viewer, values.get("pool"))
    errors: dict[str, list[str]] = {}
    conditions = values.get("conditions")
    if problems := validate(conditions if conditions is not None else {}, CHOICES):
        errors["conditions"] = [str(problem) for problem in problems]
    target = values.get("target")
    if target_problems := validate_target(target):
        errors["target"] = [str(problem) for problem in target_problems]
    elif isinstance(target, dict) and (id_problems := _target_problems(viewer, target)):
        errors["target"] = id_problems
    if errors:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR, _("The assignment rule is not valid."), errors=errors
        )


@transaction.atomic
def save_rule(
    viewer: Viewer, rule: AssignmentRule | None, values: dict[str, Any]
) -> AssignmentRule:
    """Create (``rule`` None) or update a rule from ``values`` (a partial update keeps the
    rest); the viewer must also manage the rule as it was."""
    if rule is not None:
        check_existing(viewer, rule)
    rule = rule or AssignmentRule(created_by=viewer.user)
    merged = {name: values.get(name, getattr(rule, name, None)) for name in EDITABLE}
    if merged["conditions"] is None:
        merged["conditions"] = {}
    check_rule(viewer, merged)
    for name, value in merged.items():
        setattr(rule, name, value)
    rule.save()
    return rule


def check_existing(viewer: Viewer, rule: AssignmentRule) -> None:
    require_rule_manager(viewer)
    _require_pool_authority(viewer, rule.pool)


@transaction.atomic
def delete_rule(viewer: Viewer, rule: AssignmentRule) -> None:
    check_existing(viewer, rule)
    rule.delete()
