"""The manager dashboard's figures, read within what the viewer sees.

People come from ``Viewer.users()`` (the manager's subtree), customers from
``Viewer.customers()``, pools from ``Viewer.pools()``; the ledger is read only for those.

``dashboard_figures`` is the dashboard's one read: the held customers, the claims and
recycles per rep and of the week are exact at every load (per-rep days, ``snapshots``, read
once for both windows and the holdings: ``snapshots.recent``); the windows are whole calendar
days — "近7天" is today and the six days before it, "近30天" today and the 29 before; the
rest — the pools and their size lines, the follow-up rates, the conversion by channel, the
customers due within a week and the pooled ones — is one cached figure (``insights.cache``,
``computed_at`` says when; ``exact`` computes it live).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet

from highseas.accounts.models import Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStage, CustomerStatus, Source
from highseas.insights import cache, snapshots
from highseas.pools.models import Pool

HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)
MOST_REPS = 12
MOST_POOLS = 5
SHOWN = ("claims", "recycled")  # the counters the dashboard shows (``snapshots.recent``)


def rep_query(viewer: Viewer) -> QuerySet[User]:
    """The active reps in view: a statement other reads take as a subquery."""
    return viewer.users().filter(role=Role.REP, is_active=True)


@dataclass(frozen=True, slots=True)
class Rep:
    """A rep as the dashboard names them: an admin sees thousands, read as plain rows."""

    pk: int
    username: str
    display_name: str

    @property
    def label(self) -> str:
        return self.display_name or self.username


def team_reps(viewer: Viewer) -> list[Rep]:
    """The active reps in view, by username."""
    rows = rep_query(viewer).order_by("username").values_list("pk", "username", "display_name")
    return [Rep(*row) for row in rows]


def shown_pools(viewer: Viewer) -> list[Pool]:
    pools = viewer.pools().filter(is_reassign_queue=False)
    sized = pools.annotate(
        pooled=Count("customers", filter=Q(customers__status=CustomerStatus.POOLED))
    ).order_by("-pooled", "name")
    return list(sized[:MOST_POOLS])


def pool_sizes(
    pools: list[Pool], now: datetime, days: int
) -> tuple[list[date], dict[str, list[int]]]:
    """Pooled customers per pool at the end of each of the last ``days`` days, by pool name
    (precomputed days where the scheduler stored them: ``insights.snapshots``)."""
    return snapshots.pool_sizes(pools, now, days)


WEEK = 7


def claims_and_recycles(
    reps: list[Rep], counted: dict[int, snapshots.RepCounts]
) -> list[tuple[str, list[float], int]]:
    """Per rep, most first: claims they made and customers recycled from them in the window
    ``counted`` holds (``snapshots.recent``)."""
    rows = [
        (rep.label, [float(counted[rep.pk].claims), float(counted[rep.pk].recycled)], rep.pk)
        for rep in reps
    ]
    rows.sort(key=lambda row: (-sum(row[1]), row[0]))
    return rows[:MOST_REPS]


def follow_up_rates(
    viewer: Viewer, reps: list[Rep], since: datetime
) -> list[tuple[str, float, int]]:
    """Per rep: the share of their held customers with an effective follow-up since ``since``."""
    counts = {
        owner: (total, followed)
        for owner, total, followed in viewer.customers()
        .filter(owner_id__in=rep_query(viewer).values("pk"), status__in=HELD)
        .values_list("owner_id")
        .annotate(
            total=Count("id"),
            followed=Count("id", filter=Q(last_effective_activity_at__gte=since)),
        )
    }
    rows = [
        (rep.label, 100.0 * counts[rep.pk][1] / counts[rep.pk][0], rep.pk)
        for rep in reps
        if counts.get(rep.pk, (0, 0))[0]
    ]
    rows.sort(key=lambda row: (row[1], row[0]))
    return rows[:MOST_REPS]


@dataclass(frozen=True)
class SourceConversion:
    source: str
    total: int
    won: int
    code: str = ""

    @property
    def rate(self) -> float:
        return 100.0 * self.won / self.total if self.total else 0.0


def source_counts(viewer: Viewer) -> list[tuple[str, int, int]]:
    """Per first-touch channel code: the customers the viewer sees, and the won ones."""
    rows = (
        viewer.customers()
        .values_list("source")
        .annotate(total=Count("id"), won=Count("id", filter=Q(stage=CustomerStage.WON)))
    )
    return [(code, total, won) for code, total, won in rows]


def labelled(counts: list[tuple[str, int, int]]) -> list[SourceConversion]:
    labels = dict(Source.choices)
    found = [SourceConversion(str(labels.get(s, s)), total, won, s) for s, total, won in counts]
    return sorted(found, key=lambda row: (-row.rate, row.source))


def conversion_by_source(viewer: Viewer) -> list[SourceConversion]:
    return labelled(source_counts(viewer))


def _due_and_pooled(viewer: Viewer, now: datetime) -> dict[str, int]:
    team = viewer.customers().filter(owner_id__in=rep_query(viewer).values("pk"), status__in=HELD)
    return {
        "due_week": team.filter(recycle_due_at__lte=now + timedelta(days=7)).count(),
        "pooled": viewer.customers().filter(status=CustomerStatus.POOLED).count(),
    }


def _week(week: dict[int, snapshots.RepCounts], held: dict[int, int]) -> dict[str, int]:
    return {
        "held": sum(held.values()),
        "claims_week": sum(row.claims for row in week.values()),
        "recycled_week": sum(row.recycled for row in week.values()),
    }


def headline(viewer: Viewer, reps: list[Rep], now: datetime) -> dict[str, int]:
    ids = [rep.pk for rep in reps]
    windows, held = snapshots.recent(ids, now, (WEEK,), rep_query(viewer).values("pk"), SHOWN)
    return {**_week(windows[WEEK], held), **_due_and_pooled(viewer, now)}


@cache.figure("dashboard")
def cached_part(viewer: Viewer, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The dashboard's figures served from the cache (module docstring)."""
    reps = team_reps(viewer)
    pools = shown_pools(viewer)
    axis, sizes = pool_sizes(pools, now, params["pool_days"])
    follow = follow_up_rates(viewer, reps, now - timedelta(days=params["follow_up_days"]))
    return {
        **_due_and_pooled(viewer, now),
        "pools": [[pool.pk, pool.name] for pool in pools],
        "axis": axis,
        "sizes": sizes,
        "follow": follow,
        "conversion": source_counts(viewer),
    }


def dashboard_figures(
    viewer: Viewer,
    now: datetime,
    *,
    pool_days: int,
    activity_days: int,
    follow_up_days: int,
    exact: bool = False,
) -> dict[str, Any]:
    """Everything the dashboard shows (module docstring)."""
    reps = team_reps(viewer)
    params = {"pool_days": pool_days, "follow_up_days": follow_up_days}
    slow, computed_at = cache.remember("dashboard", viewer, params, now=now, exact=exact)
    ids, among = [rep.pk for rep in reps], rep_query(viewer).values("pk")
    windows, held = snapshots.recent(ids, now, (WEEK, activity_days), among, SHOWN)
    return {
        "kpi": {**_week(windows[WEEK], held), **{n: slow[n] for n in ("due_week", "pooled")}},
        "pools": [(pk, name) for pk, name in slow["pools"]],
        "axis": slow["axis"],
        "sizes": slow["sizes"],
        "activity": claims_and_recycles(reps, windows[activity_days]),
        "follow": [tuple(row) for row in slow["follow"]],
        "conversion": labelled([(code, total, won) for code, total, won in slow["conversion"]]),
        "computed_at": computed_at,
    }
