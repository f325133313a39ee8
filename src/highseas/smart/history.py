"""The organization's own history as the win model sees it: every deal decided (won or lost)
before a moment, with the rep who owned it and the customer it was for, imported history
included; and the reps as they stand now.

A rep's workload at a moment is their open deals then (created, not yet decided), read from
the same deals; their tenure is the time since they joined.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Q

from highseas.accounts.models import Role, User
from highseas.customers.models import Deal
from highseas.smart.features import Example, RepFacts, customer_values

ROUTED = ("industry", "province", "employees", "revenue_band", "source", "level")
CUSTOMER_FIELDS = tuple(f"customer__{name}" for name in ROUTED)


class Workloads:
    """Open deals per rep at any moment, from the creation and decision times of their deals."""

    def __init__(self, until: datetime | None = None) -> None:
        deals = Deal.objects.filter(owner__isnull=False)
        if until is not None:
            deals = deals.filter(created_at__lt=until)
        opened: dict[int, list[datetime]] = defaultdict(list)
        closed: dict[int, list[datetime]] = defaultdict(list)
        for owner, created, won, lost in deals.values_list(
            "owner_id", "created_at", "won_at", "lost_at"
        ).iterator(chunk_size=10_000):
            opened[owner].append(created)
            decided = won or lost
            if decided is not None:
                closed[owner].append(decided)
        for times in (*opened.values(), *closed.values()):
            times.sort()
        self.opened, self.closed = opened, closed

    def at(self, rep: int, moment: datetime) -> int:
        """Deals the rep had open just before ``moment``."""
        return max(
            0,
            bisect.bisect_left(self.opened.get(rep, []), moment)
            - bisect.bisect_right(self.closed.get(rep, []), moment),
        )


def _reps(rep_ids: Iterable[int] | None = None) -> dict[int, tuple[int | None, str, datetime]]:
    users = User.objects.filter(role=Role.REP)
    if rep_ids is not None:
        users = users.filter(pk__in=list(rep_ids))
    return {
        pk: (team, level or "", joined)
        for pk, team, level, joined in users.values_list(
            "pk", "team_id", "profile__level", "date_joined"
        )
    }


def rep_facts(
    at: datetime, workloads: Workloads, reps: dict[int, tuple[int | None, str, datetime]], rep: int
) -> RepFacts:
    team, level, joined = reps.get(rep, (None, "", at))
    return RepFacts(rep, team, level, max(0, (at - joined).days), workloads.at(rep, at))


def decided_deals(until: datetime, since: datetime | None = None) -> list[Example]:
    """Every deal with an owner won or lost before ``until`` (and from ``since``)."""
    decided = Q(won_at__lt=until) | Q(lost_at__lt=until)
    deals = Deal.objects.filter(decided, owner__isnull=False)
    if since is not None:
        deals = deals.filter(Q(won_at__gte=since) | Q(lost_at__gte=since))
    reps = _reps()
    workloads = Workloads(until)
    examples = []
    for row in deals.values(
        "owner_id", "created_at", "won_at", "lost_at", *CUSTOMER_FIELDS
    ).iterator(chunk_size=10_000):
        won = row["won_at"] is not None and row["won_at"] < until
        at = row["won_at"] if won else row["lost_at"]
        if at is None:
            continue
        fields = {name: row[f"customer__{name}"] for name in ROUTED}
        facts = rep_facts(row["created_at"], workloads, reps, row["owner_id"])
        examples.append(Example(facts, customer_values(fields), won, at))
    return examples


def reps_now(rep_ids: Iterable[int], now: datetime) -> dict[int, RepFacts]:
    """These reps as the model sees them at ``now``: two queries, whatever their number."""
    reps = _reps(rep_ids)
    open_deals = dict(
        Deal.objects.filter(
            owner_id__in=list(reps), won_at__isnull=True, lost_at__isnull=True, created_at__lt=now
        )
        .values("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    return {
        rep: RepFacts(rep, team, level, max(0, (now - joined).days), open_deals.get(rep, 0))
        for rep, (team, level, joined) in reps.items()
    }
