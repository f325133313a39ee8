"""The console's insights page in one read: over the last ``days`` days, the breakdown of the
reps' gains ``by`` a grouping, what became of their claims, fairness (Gini of holdings, new
customers and claims; hoarders; customers bouncing between pool and reps), the value levels
of the team's customers, and the pools' performance-linked limit plans. Admins and managers
(their subtree); reps are refused by each part.

The reading the console gives of fairness (``reading``):

- per top-level team of the reps in view, the Gini of its reps' claims in the window; a team
  whose Gini reaches ``HIGHSEAS_UNFAIR_GINI`` (default 0.3) is unfair, and the rep with most
  of its claims is named with their share;
- a rep with at least ``HIGHSEAS_HOARDER_MIN`` (default 5) hoarded customers (held beyond the
  hoarding days without an effective follow-up) is a hoarder.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count

from highseas.accounts.models import Team, User
from highseas.accounts.visibility import Viewer, ancestor_team_ids
from highseas.customers.choices import CustomerLevel, CustomerStatus
from highseas.engine.insights import gini
from highseas.engine.ownership import EventKind
from highseas.insights import cache, snapshots
from highseas.insights.breakdowns import breakdown, claim_effectiveness
from highseas.insights.models import LimitPlan
from highseas.insights.performance import (
    PAGE_SIZE,
    among,
    fairness,
    paged,
    ranked,
    reps_in_view,
)
from highseas.pools.models import OwnershipEvent

WINDOWS = snapshots.STORED_WINDOWS  # the roll-up stores each one's closed days summed
# the claim-effectiveness table's orders, the default first (``performance.ranked``)
CLAIM_SORTS = (
    "-claims",
    "-contacted",
    "-won",
    "-returned",
    "-contact_rate",
    "-win_rate",
    "-return_rate",
    "display_name",
)
MOST_CHARTED = 12
HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)


def level_counts(viewer: Viewer) -> list[tuple[str, int]]:
    """Held customers the viewer sees, per level A, B, C."""
    counts = dict(
        viewer.customers()
        .filter(status__in=HELD, owner_id__in=among(viewer))
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


def unfair_gini() -> float:
    return float(getattr(settings, "HIGHSEAS_UNFAIR_GINI", 0.3))


def hoarder_min() -> int:
    return int(getattr(settings, "HIGHSEAS_HOARDER_MIN", 5))


def team_claims(
    reps: list[User], since: datetime, until: datetime, sql: Any = None
) -> list[dict[str, Any]]:
    """Per top-level team of ``reps`` (``sql``: the same as a subquery): the claims of its
    reps in ``[since, until)``, their Gini, whether it is unfair, and the rep with most claims
    and their share (module docstring)."""
    claims = dict(
        OwnershipEvent.objects.filter(
            kind=EventKind.CLAIMED.value,
            to_owner_id__in=[rep.pk for rep in reps] if sql is None else sql,
            at__gte=since,
            at__lt=until,
        )
        .values_list("to_owner_id")
        .annotate(n=Count("id"))
    )
    roots = {
        team.pk: ancestor_team_ids(team)[0]
        for team in Team.objects.filter(pk__in={rep.team_id for rep in reps}).only("path")
        if ancestor_team_ids(team)
    }
    teams: dict[int, list[User]] = {}
    for rep in reps:
        if rep.team_id in roots:
            teams.setdefault(roots[rep.team_id], []).append(rep)
    names = dict(Team.objects.filter(pk__in=teams).values_list("pk", "name"))
    found = []
    for team_id, members in sorted(teams.items(), key=lambda item: names.get(item[0], "")):
        counts = [claims.get(rep.pk, 0) for rep in members]
        total, value = sum(counts), gini(counts)
        top = max(members, key=lambda rep: (claims.get(rep.pk, 0), -rep.pk))
        found.append(
            {
                "team": team_id,
                "name": names.get(team_id, ""),
                "reps": len(members),
                "claims": total,
                "gini_claims": value,
                "unfair": len(members) > 1 and value >= unfair_gini(),
                "top_rep": top.pk,
                "top_rep_name": top.label,
                "top_claims": claims.get(top.pk, 0),
                "top_share": claims.get(top.pk, 0) / total if total else 0.0,
            }
        )
    return found


def reading(
    viewer: Viewer, figures: dict[str, Any], since: datetime, until: datetime
) -> dict[str, Any]:
    """What the fairness figures mean (module docstring): the teams, which are unfair and
    who takes most of their claims, and the hoarders."""
    teams = team_claims(reps_in_view(viewer), since, until, among(viewer))
    hoarders = [row for row in figures["hoarding"]["reps"] if row["hoarded"] >= hoarder_min()]
    return {
        "unfair_gini": unfair_gini(),
        "hoarder_min": hoarder_min(),
        "teams": teams,
        "unfair": [team for team in teams if team["unfair"]],
        "hoarders": sorted(hoarders, key=lambda row: -row["hoarded"]),
    }


def _breakdown_part(viewer: Viewer, days: int, by: str, now: datetime) -> dict[str, Any]:
    since = snapshots.day_start(now, days)  # calendar days
    return {"breakdown": breakdown(viewer, by=by, since=since, until=now)}


def _window_part(viewer: Viewer, days: int, now: datetime) -> dict[str, Any]:
    since = snapshots.day_start(now, days)
    fair = fairness(viewer, now=now, since=since, until=now)
    return {
        "claims": claim_effectiveness(viewer, since=since, until=now),
        "fairness": fair,
        "reading": reading(viewer, fair, since, now),
    }


def console_figures(viewer: Viewer, *, days: int, by: str, now: datetime) -> dict[str, Any]:
    days = days if days in WINDOWS else 30
    return {
        "days": days,
        "by": by,
        **_breakdown_part(viewer, days, by, now),
        **_window_part(viewer, days, now),
        "levels": level_counts(viewer),
        "plans": limit_plans(viewer),
    }


# the page's figures are cached in three parts, so another grouping recomputes only the
# breakdown and another window leaves the levels (an admin's cold parts take tens of seconds
# at 1M customers)
@cache.figure("insights_breakdown")
def cached_breakdown_part(viewer: Viewer, params: dict[str, Any], now: datetime) -> Any:
    return _breakdown_part(viewer, params["days"], params["by"], now)


@cache.figure("insights_window")
def cached_window_part(viewer: Viewer, params: dict[str, Any], now: datetime) -> Any:
    return _window_part(viewer, params["days"], now)


@cache.figure("insights_levels")
def cached_levels(viewer: Viewer, params: dict[str, Any], now: datetime) -> Any:
    return {"levels": level_counts(viewer)}


def console_page(
    viewer: Viewer,
    *,
    days: int,
    by: str,
    now: datetime,
    exact: bool = False,
    sort: str = CLAIM_SORTS[0],
    page: int = 1,
    group_page: int = 1,
) -> dict[str, Any]:
    """``console_figures`` as the page reads them: from the cache (``insights.cache``), in
    three parts — the breakdown (per window and grouping), the window's claims and fairness,
    the levels — and ``computed_at`` the oldest part's time (each over the window ending when
    it was computed); the limit plans always live; ``exact`` computes everything now. An
    admin sees thousands of reps, so the page shows ranked pages of ``PAGE_SIZE`` rows:
    ``claims_page``, the claim effectiveness by ``sort`` (``CLAIM_SORTS``), page ``page``;
    ``claims_top``, the ``MOST_CHARTED`` reps with most claims (its chart); ``groups_page``,
    the breakdown's groups (biggest first), page ``group_page``."""
    reps_in_view(viewer)  # a rep is refused before any cached figure is read
    days = days if days in WINDOWS else 30
    parts = [
        cache.remember(name, viewer, params, now=now, exact=exact)
        for name, params in (
            ("insights_breakdown", {"days": days, "by": by}),
            ("insights_window", {"days": days}),
            ("insights_levels", {}),
        )
    ]
    figures: dict[str, Any] = {"days": days, "by": by}
    for part, _at in parts:
        figures |= part
    times = [at for _part, at in parts if at is not None]
    computed_at = min(times) if times else None
    claims = figures["claims"]["reps"]
    return {
        **figures,
        "claims_page": ranked(claims, sort=sort, sorts=CLAIM_SORTS, page=page, size=PAGE_SIZE),
        "claims_top": [
            row
            for row in ranked(claims, sort="-claims", sorts=CLAIM_SORTS, size=MOST_CHARTED)["rows"]
            if row["claims"]
        ],
        "groups_page": paged(figures["breakdown"]["groups"], group_page, PAGE_SIZE),
        "plans": limit_plans(viewer),
        "computed_at": computed_at,
    }
