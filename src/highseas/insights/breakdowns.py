"""Breakdowns of the reps' work over a window, read within what the viewer sees (admins and
managers; a rep is refused): who is counted is ``performance.reps_in_view``.

1. A *gain* is a ledger entry in ``[since, until)`` that makes a rep in view the owner
   (created, claimed, assigned, transferred). ``breakdown(by=…)`` groups the gains by the
   customer's first-touch channel (``source``, set when it was registered and never moved by
   a claim: first-touch attribution), ``industry``, ``region`` (province), ``rep`` or ``team``
   (the rep's team), and per group gives: ``gains``; ``won``: gains whose customer had a deal
   owned by that rep won at or after the gain and before ``until``; ``conversion = won /
   gains``; ``revenue``: the amounts of those won deals; ``median_hours_to_first_contact``:
   from the gain to the rep's first activity on the customer at or after it (before
   ``until``), gains not contacted left out. An empty value is the group ``""``.
2. ``claim_effectiveness`` is the regular evaluation of claims (定期评估认领效果): per rep, the
   claims in the window, of which ``contacted`` (an activity by the claimer after the claim),
   ``won`` (as in 1), ``returned`` (released by or recycled from the claimer after the
   claim, before ``until``) and their rates over the claims.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet, Subquery, Sum
from django.utils.translation import gettext as _

from highseas.accounts.visibility import Viewer
from highseas.customers.choices import DealStage
from highseas.customers.models import Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.insights import median
from highseas.engine.ownership import EventKind
from highseas.insights import cache
from highseas.insights.performance import (
    GAINS,
    RETURNS,
    Reps,
    Window,
    among,
    first_contact,
    reps_in_view,
    window,
)
from highseas.pools.models import OwnershipEvent

GROUPINGS = {
    "source": "customer__source",
    "industry": "customer__industry",
    "region": "customer__province",
    "rep": "to_owner__username",
    "team": "to_owner__team__name",
}


def _won_after(span: Window) -> QuerySet[Deal]:
    return Deal.objects.filter(
        customer_id=OuterRef("customer_id"),
        owner_id=OuterRef("to_owner_id"),
        stage=DealStage.WON,
        won_at__gte=OuterRef("at"),
        won_at__lt=span.until,
    )


def gains(ids: Reps, span: Window, kinds: tuple[str, ...] = GAINS) -> QuerySet[Any]:
    """The gains of the reps ``ids`` in the window, each with whether it was won, the won
    amount and the first contact."""
    won = _won_after(span)
    return OwnershipEvent.objects.filter(
        kind__in=kinds, to_owner_id__in=ids, at__gte=span.since, at__lt=span.until
    ).annotate(
        won=Exists(won),
        revenue=Subquery(
            won.values("customer_id").annotate(total=Sum("amount")).values("total")[:1]
        ),
        first=Subquery(first_contact(span)),
    )


@dataclass
class Group:
    key: str
    gains: int = 0
    won: int = 0
    revenue: Decimal = Decimal(0)
    hours: list[float] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "gains": self.gains,
            "won": self.won,
            "conversion": self.won / self.gains if self.gains else None,
            "revenue": self.revenue,
            "median_hours_to_first_contact": median(self.hours),
        }


def _cached(
    name: str, viewer: Viewer, params: dict[str, Any], *, cached: bool, default: bool
) -> dict[str, Any] | None:
    """The figure from the cache (``insights.cache``) when asked for over the default window,
    with ``cached`` saying when it was computed; None otherwise."""
    if not (cached and default):
        return None
    found, computed_at = cache.remember(name, viewer, params)
    return {**found, "cached": {"fields": ["*"], "computed_at": computed_at}}


def breakdown(
    viewer: Viewer,
    *,
    by: str,
    since: datetime | None = None,
    until: datetime | None = None,
    cached: bool = False,
) -> dict[str, Any]:
    """The gains of the reps in view grouped ``by`` (module docstring, step 1), biggest first.
    With ``cached`` and the default window, from the cache (``insights.cache``)."""
    if by not in GROUPINGS:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Unknown breakdown."),
            errors={"by": [f"one of {', '.join(GROUPINGS)}"]},
        )
    span = window(since, until)
    ids = among(viewer)  # a rep is refused here
    default = since is None and until is None
    if found := _cached("breakdown", viewer, {"by": by}, cached=cached, default=default):
        return found
    rows = gains(ids, span).values_list(GROUPINGS[by], "won", "revenue", "at", "first")
    groups: dict[str, Group] = {}
    for key, won, revenue, gained, contacted in rows:
        group = groups.setdefault(key or "", Group(key or ""))
        group.gains += 1
        group.won += int(bool(won))
        group.revenue += revenue or Decimal(0)
        if contacted is not None:
            group.hours.append((contacted - gained).total_seconds() / 3600)
    ordered = sorted(groups.values(), key=lambda g: (-g.gains, g.key))
    return {
        "since": span.since,
        "until": span.until,
        "by": by,
        "groups": [g.row() for g in ordered],
    }


def claim_effectiveness(
    viewer: Viewer,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    cached: bool = False,
) -> dict[str, Any]:
    """Per rep in view, what became of their claims in the window (module docstring, 2).
    With ``cached`` and the default window, from the cache (``insights.cache``)."""
    span = window(since, until)
    reps = reps_in_view(viewer)
    default = since is None and until is None
    if found := _cached("claims", viewer, {}, cached=cached, default=default):
        return found
    returned = OwnershipEvent.objects.filter(
        customer_id=OuterRef("customer_id"),
        from_owner_id=OuterRef("to_owner_id"),
        kind__in=RETURNS,
        at__gt=OuterRef("at"),
        at__lt=span.until,
    )
    rows = (
        gains(among(viewer), span, (EventKind.CLAIMED,))
        .annotate(returned=Exists(returned))
        .values_list("to_owner_id", "won", "first", "returned")
    )
    per_rep: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for owner, won, first, came_back in rows:
        counts = per_rep[owner]
        counts[0] += 1
        counts[1] += first is not None
        counts[2] += bool(won)
        counts[3] += bool(came_back)
    result = []
    for rep in reps:
        claims, contacted, won, back = per_rep.get(rep.pk, [0, 0, 0, 0])
        result.append(
            {
                "rep": rep.pk,
                "username": rep.username,
                "display_name": rep.label,
                "claims": claims,
                "contacted": contacted,
                "won": won,
                "returned": back,
                "contact_rate": contacted / claims if claims else None,
                "win_rate": won / claims if claims else None,
                "return_rate": back / claims if claims else None,
            }
        )
    return {"since": span.since, "until": span.until, "reps": result}


@cache.figure("breakdown")
def cached_breakdown(viewer: Viewer, params: dict[str, Any], now: datetime) -> Any:
    span = window(now=now)
    return breakdown(viewer, by=params["by"], since=span.since, until=span.until)


@cache.figure("claims")
def cached_claims(viewer: Viewer, params: dict[str, Any], now: datetime) -> Any:
    span = window(now=now)
    return claim_effectiveness(viewer, since=span.since, until=span.until)
