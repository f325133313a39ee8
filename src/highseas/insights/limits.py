"""Performance-linked claim limits per pool (optional): the plan, its preview, the daily
recompute of the per-rep factors the claim path reads, and the rep's explanation.

1. A pool's ``LimitPlan`` ranks the pool's active reps (members directly or through their team
   or a team above it) by ``measure`` over the ``window_days`` before ``now``: ``win_rate`` =
   won / (won + lost) of the deals they own closed in the window; ``conversion`` = claims in
   the window whose customer they then won / claims; ``revenue`` = their won amounts. A rep
   with nothing to measure has no rank and keeps the pool's limits.
2. ``engine.tiers`` turns ranks into multipliers and scales the daily/weekly quota and the
   holding cap, never above the plan's ceilings (a null ceiling: the pool's own limit).
3. ``preview_plan`` shows, for a plan not yet saved, who would gain or lose how much;
   ``save_plan`` validates (tiers; ceilings at least the pool's limits), saves with an audit
   row, and recomputes at once when the plan is on.
4. ``recompute_factors`` writes one ``RepLimitFactor`` per rep (the claim path's one lookup,
   ``pools.quotas.performance_limits``) and a ``LimitFactorLog`` row for each multiplier that
   changed; the scheduler recomputes each plan that is on once a day.
5. Who may: admins, and managers who administer the pool or belong to it; reps are refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, Role, User
from highseas.accounts.visibility import Viewer, ancestor_team_ids
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.limits import ClaimLimits
from highseas.engine.ownership import EventKind
from highseas.engine.tiers import (
    Ceilings,
    multiplier_for,
    parse_tiers,
    rank_percents,
    scaled_limits,
    tier_errors,
)
from highseas.insights.breakdowns import gains
from highseas.insights.models import LimitFactorLog, LimitPlan, RepLimitFactor
from highseas.insights.performance import Window, deals
from highseas.pools import nightly
from highseas.pools.models import Pool
from highseas.pools.policies import claim_limits

RECOMPUTE_EVERY = timedelta(days=1)
PLAN_FIELDS = (
    "is_active",
    "measure",
    "window_days",
    "tiers",
    "ceiling_daily_quota",
    "ceiling_weekly_quota",
    "ceiling_holding_cap",
)


def pool_for(viewer: Viewer, pool_id: int) -> Pool:
    """The pool whose plan the viewer may read and change (module docstring, step 5)."""
    if not (viewer.is_admin or viewer.user.is_manager):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("Only a manager or an admin may change performance-linked limits."),
        )
    pool = viewer.pools().select_related("claim_policy").filter(pk=pool_id).first()
    if pool is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such pool."))
    return pool


def plans_overview(viewer: Viewer) -> list[dict[str, Any]]:
    """The pools whose plan the viewer may change, each with its plan's state (none yet,
    off, on), for the console's list (module docstring, step 5)."""
    if not (viewer.is_admin or viewer.user.is_manager):
        pool_for(viewer, 0)  # refuses
    plans = {plan.pool_id: plan for plan in LimitPlan.objects.filter(pool__in=viewer.pools())}
    return [
        {
            "pool": pool.pk,
            "name": pool.name,
            "plan": pool.pk in plans,
            "is_active": pool.pk in plans and plans[pool.pk].is_active,
            "measure": plans[pool.pk].get_measure_display() if pool.pk in plans else "",
            "window_days": plans[pool.pk].window_days if pool.pk in plans else None,
            "computed_at": plans[pool.pk].computed_at if pool.pk in plans else None,
        }
        for pool in viewer.pools().order_by("name")
    ]


def pool_reps(pool: Pool) -> list[User]:
    """The active reps who belong to the pool: directly, or through a team or one above it."""
    teams = set(pool.member_teams.values_list("pk", flat=True))
    reps = User.objects.filter(role=Role.REP, is_active=True).select_related("team")
    direct = set(pool.member_users.values_list("pk", flat=True))
    return [
        rep
        for rep in reps.filter(Q(pk__in=direct) | Q(team__isnull=False)).order_by("username")
        if rep.pk in direct or teams & set(ancestor_team_ids(rep.team))
    ]


def measured(measure: str, ids: list[int], span: Window) -> dict[int, float | None]:
    """Each rep's value of the measure over the window (module docstring, step 1)."""
    if measure == LimitPlan.Measure.CONVERSION:
        rows = gains(ids, span, (EventKind.CLAIMED,)).values_list("to_owner_id", "won")
        counts: dict[int, list[int]] = {}
        for owner, won in rows:
            pair = counts.setdefault(owner, [0, 0])
            pair[0] += 1
            pair[1] += bool(won)
        return {pk: counts[pk][1] / counts[pk][0] if pk in counts else None for pk in ids}
    closed = deals(ids, span)
    if measure == LimitPlan.Measure.REVENUE:
        return {pk: float(closed[pk][2]) if pk in closed else None for pk in ids}
    return {
        pk: closed[pk][0] / (closed[pk][0] + closed[pk][1])
        if pk in closed and closed[pk][0] + closed[pk][1]
        else None
        for pk in ids
    }


def _ceilings(plan: LimitPlan) -> Ceilings:
    return Ceilings(plan.ceiling_daily_quota, plan.ceiling_weekly_quota, plan.ceiling_holding_cap)


def _limits(limits: ClaimLimits) -> dict[str, int | None]:
    return {
        "daily_quota": limits.daily_quota,
        "weekly_quota": limits.weekly_quota,
        "holding_cap": limits.holding_cap,
    }


def plan_rows(pool: Pool, plan: LimitPlan, now: datetime) -> list[dict[str, Any]]:
    """Per rep of the pool: the measure, the rank, the multiplier, and the limits before
    and after (what a preview shows and a recompute stores)."""
    reps = pool_reps(pool)
    span = Window(now - timedelta(days=plan.window_days), now)
    values = measured(plan.measure, [rep.pk for rep in reps], span)
    ranks = rank_percents(values)
    tiers = parse_tiers(plan.tiers or [])
    base = claim_limits(pool)
    rows = []
    for rep in reps:
        factor = multiplier_for(ranks[rep.pk], tiers)
        after = scaled_limits(base, factor, _ceilings(plan))
        rows.append(
            {
                "rep": rep.pk,
                "username": rep.username,
                "display_name": rep.label,
                "measured": values[rep.pk],
                "top_percent": ranks[rep.pk],
                "multiplier": factor,
                "before": _limits(base),
                "after": _limits(after),
            }
        )
    return rows


def _validated(pool: Pool, fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(PLAN_FIELDS))
    errors: dict[str, list[str]] = {name: ["not a plan field"] for name in unknown}
    if "tiers" in fields and (found := tier_errors(fields["tiers"])):
        errors["tiers"] = found
    if fields.get("measure", LimitPlan.Measure.WIN_RATE) not in LimitPlan.Measure.values:
        errors["measure"] = [f"one of {', '.join(LimitPlan.Measure.values)}"]
    days = fields.get("window_days", 30)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 731:
        errors["window_days"] = ["between 1 and 731 days"]
    base = _limits(claim_limits(pool))
    for name, limit in base.items():
        ceiling = fields.get(f"ceiling_{name}")
        if ceiling is None:
            continue
        if not isinstance(ceiling, int) or isinstance(ceiling, bool) or ceiling < 0:
            errors[f"ceiling_{name}"] = ["a whole number or null"]
        elif limit is not None and ceiling < limit:
            errors[f"ceiling_{name}"] = [f"at least the pool's own limit ({limit})"]
    if errors:
        raise HighSeasError(ErrorCode.VALIDATION_ERROR, _("The plan is not valid."), errors=errors)
    return fields


def _plan_of(pool: Pool) -> LimitPlan:
    return LimitPlan.objects.filter(pool=pool).first() or LimitPlan(pool=pool)


def _described(pool: Pool, plan: LimitPlan, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "pool": pool.pk,
        **{name: getattr(plan, name) for name in PLAN_FIELDS},
        "computed_at": plan.computed_at,
        "reps": rows,
    }


def plan_report(viewer: Viewer, pool_id: int, *, now: datetime) -> dict[str, Any]:
    """The pool's plan as saved and its effect on each rep now."""
    pool = pool_for(viewer, pool_id)
    plan = _plan_of(pool)
    return _described(pool, plan, plan_rows(pool, plan, now))


def preview_plan(
    viewer: Viewer, pool_id: int, fields: dict[str, Any], *, now: datetime
) -> dict[str, Any]:
    """What a plan with ``fields`` would do to each rep of the pool, saving nothing."""
    pool = pool_for(viewer, pool_id)
    plan = _plan_of(pool)
    for name, value in _validated(pool, fields).items():
        setattr(plan, name, value)
    return _described(pool, plan, plan_rows(pool, plan, now))


@transaction.atomic
def save_plan(
    viewer: Viewer, pool_id: int, fields: dict[str, Any], *, now: datetime
) -> dict[str, Any]:
    """Save the pool's plan (audited) and, when it is on, recompute its factors now."""
    pool = pool_for(viewer, pool_id)
    plan = _plan_of(pool)
    before = {name: getattr(plan, name) for name in PLAN_FIELDS} if plan.pk else {}
    for name, value in _validated(pool, fields).items():
        setattr(plan, name, value)
    plan.save()
    after = {name: getattr(plan, name) for name in PLAN_FIELDS}
    record_audit(
        viewer.user,
        AuditLog.Action.POLICY_CHANGE,
        target_type="limit_plan",
        target_id=pool.pk,
        before=before,
        after=after,
    )
    if plan.is_active:
        recompute_factors(plan, now)
    else:
        RepLimitFactor.objects.filter(pool=pool).delete()
    return _described(pool, plan, plan_rows(pool, plan, now))


def recompute_factors(plan: LimitPlan, now: datetime) -> int:
    """Store each rep's multiplier; log each one that changed (module docstring, step 4)."""
    pool = Pool.objects.select_related("claim_policy").get(pk=plan.pool_id)
    rows = plan_rows(pool, plan, now)
    stored = dict(RepLimitFactor.objects.filter(pool=pool).values_list("rep_id", "multiplier"))
    changed = 0
    for row in rows:
        before = stored.get(row["rep"], Decimal(1))
        RepLimitFactor.objects.update_or_create(
            pool=pool,
            rep_id=row["rep"],
            defaults={
                "multiplier": row["multiplier"],
                "measured": row["measured"],
                "top_percent": row["top_percent"],
                "computed_at": now,
            },
        )
        if before != row["multiplier"]:
            changed += 1
            LimitFactorLog.objects.create(
                pool=pool,
                rep_id=row["rep"],
                at=now,
                before=before,
                after=row["multiplier"],
                detail={
                    "measure": plan.measure,
                    "window_days": plan.window_days,
                    "measured": row["measured"],
                    "top_percent": row["top_percent"],
                    "before": row["before"],
                    "after": row["after"],
                },
            )
    RepLimitFactor.objects.filter(pool=pool).exclude(
        rep_id__in=[row["rep"] for row in rows]
    ).delete()
    LimitPlan.objects.filter(pk=plan.pk).update(computed_at=now)
    plan.computed_at = now
    return changed


def recompute_due_plans(now: datetime) -> dict[str, Any]:
    """The scheduler's daily recompute of every plan that is on, at the night hour
    (``pools.nightly``), so a pool's limits do not change during the working day; a plan just
    switched on at once."""
    due = LimitPlan.objects.filter(is_active=True).filter(
        Q(computed_at__isnull=True) | Q(computed_at__lt=nightly.ran_before(RECOMPUTE_EVERY, now))
    )
    changed = 0
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            # locked and asked again: a second worker waits here, then finds it computed
            plan = due.select_for_update().filter(pk=pk).first()
            if plan is not None:
                changed += recompute_factors(plan, now)
    return {"limit_factors_changed": changed}


def _measure_words(plan: LimitPlan) -> str:
    return str(LimitPlan.Measure(plan.measure).label)


def explain_limits(user: User) -> list[dict[str, Any]]:
    """For the rep, each pool whose plan changes their limits, and why: "Weekly quota 15: top
    20% by win rate over the last 30 days, +50%"."""
    factors = (
        RepLimitFactor.objects.filter(rep=user, pool__limit_plan__is_active=True)
        .exclude(multiplier=1)
        .select_related("pool__claim_policy", "pool__limit_plan")
        .order_by("pool__name")
    )
    found = []
    for factor in factors:
        plan = factor.pool.limit_plan
        scaled = scaled_limits(claim_limits(factor.pool), factor.multiplier, _ceilings(plan))
        after = _limits(scaled)
        change = int((factor.multiplier - 1) * 100)
        why = _("top %(top)d%% by %(measure)s over the last %(days)d days, %(change)+d%%") % {
            "top": round(factor.top_percent or 0),
            "measure": _measure_words(plan),
            "days": plan.window_days,
            "change": change,
        }
        parts = []
        if after["daily_quota"] is not None:
            parts.append(_("daily quota %(n)d") % {"n": after["daily_quota"]})
        if after["weekly_quota"] is not None:
            parts.append(_("weekly quota %(n)d") % {"n": after["weekly_quota"]})
        if after["holding_cap"] is not None:
            parts.append(_("holding cap %(n)d") % {"n": after["holding_cap"]})
        found.append(
            {
                "pool": factor.pool.pk,
                "pool_name": factor.pool.name,
                "multiplier": factor.multiplier,
                "limits": after,
                "text": _("%(limits)s: %(why)s") % {"limits": _(", ").join(parts), "why": why},
            }
        )
    return found
