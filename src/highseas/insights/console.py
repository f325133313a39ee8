"""The console's insights page in one read: over the last ``days`` days, the breakdown of the
reps' gains ``by`` a grouping, what became of their claims, fairness (Gini of holdings, new
customers and claims; hoarders; customers bouncing between pool and reps), the value levels
of the team's customers, and the pools' performance-linked limit plans. Admins and managers
(their subtree); reps are refused by each part."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count

from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerLevel, CustomerStatus
from highseas.insights.breakdowns import breakdown, claim_effectiveness
from highseas.insights.models import LimitPlan
from highseas.insights.performance import fairness, reps_in_view

WINDOWS = (7, 30, 90)
HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)


def level_counts(viewer: Viewer) -> list[tuple[str, int]]:
    """Held customers the viewer sees, per level A, B, C."""
    reps = [rep.pk for rep in reps_in_view(viewer)]
    counts = dict(
        viewer.customers()
        .filter(status__in=HELD, owner_id__in=reps)
        .values_list("level")
        .annotate(n=Count("id"))
    )
    return [(level, counts.get(level, 0)) for level in CustomerLevel.values]


def limit_plans(viewer: Viewer) -> list[dict[str, Any]]:
    plans = LimitPlan.objects.filter(pool__in=viewer.pools()).select_related("pool")
    return [
        {
            "pool": plan.pool_id,
            "pool_name": plan.pool.name,
            "is_active": plan.is_active,
            "measure": plan.get_measure_display(),
            "window_days": plan.window_days,
            "tiers": plan.tiers,
            "computed_at": plan.computed_at,
        }
        for plan in plans.order_by("pool__name")
    ]


def console_figures(viewer: Viewer, *, days: int, by: str, now: datetime) -> dict[str, Any]:
    days = days if days in WINDOWS else 30
    window = {"since": now - timedelta(days=days), "until": now}
    return {
        "days": days,
        "by": by,
        "breakdown": breakdown(viewer, by=by, **window),
        "claims": claim_effectiveness(viewer, **window),
        "fairness": fairness(viewer, now=now, **window),
        "levels": level_counts(viewer),
        "plans": limit_plans(viewer),
    }
