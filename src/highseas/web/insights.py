"""The manager dashboard's figures, read within what the viewer sees.

People come from ``Viewer.users()`` (the manager's subtree), customers from
``Viewer.customers()``, pools from ``Viewer.pools()``; the ledger is read only for those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q

from highseas.accounts.models import Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStage, CustomerStatus, Source
from highseas.insights import snapshots
from highseas.pools.models import Pool

HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)
MOST_REPS = 12
MOST_POOLS = 5


def team_reps(viewer: Viewer) -> list[User]:
    return list(viewer.users().filter(role=Role.REP, is_active=True).order_by("username"))


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


def claims_and_recycles(reps: list[User], since: datetime) -> list[tuple[str, list[float], int]]:
    """Per rep: claims they made and customers recycled from them since ``since``."""
    counted = snapshots.window_counts([rep.pk for rep in reps], since, snapshots.FOREVER)
    rows = [
        (rep.label, [float(counted[rep.pk].claims), float(counted[rep.pk].recycled)], rep.pk)
        for rep in reps
    ]
    rows.sort(key=lambda row: (-sum(row[1]), row[0]))
    return rows[:MOST_REPS]


def follow_up_rates(
    viewer: Viewer, reps: list[User], since: datetime
) -> list[tuple[str, float, int]]:
    """Per rep: the share of their held customers with an effective follow-up since ``since``."""
    counts = {
        owner: (total, followed)
        for owner, total, followed in viewer.customers()
        .filter(owner_id__in=[rep.pk for rep in reps], status__in=HELD)
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


def conversion_by_source(viewer: Viewer) -> list[SourceConversion]:
    rows = (
        viewer.customers()
        .values_list("source")
        .annotate(total=Count("id"), won=Count("id", filter=Q(stage=CustomerStage.WON)))
    )
    labels = dict(Source.choices)
    found = [SourceConversion(str(labels.get(s, s)), total, won, s) for s, total, won in rows]
    return sorted(found, key=lambda row: (-row.rate, row.source))


def headline(viewer: Viewer, reps: list[User], now: datetime) -> dict[str, int]:
    week = now - timedelta(days=7)
    ids = [rep.pk for rep in reps]
    team = viewer.customers().filter(owner_id__in=ids, status__in=HELD)
    counted = snapshots.window_counts(ids, week, snapshots.FOREVER).values()
    return {
        "held": sum(snapshots.holdings_now(ids).values()),
        "due_week": team.filter(recycle_due_at__lte=now + timedelta(days=7)).count(),
        "pooled": viewer.customers().filter(status=CustomerStatus.POOLED).count(),
        "claims_week": sum(row.claims for row in counted),
        "recycled_week": sum(row.recycled for row in counted),
    }
