"""Simulation (SPEC §9): replay the customers that arrived in a past period under several
strategies and compare them side by side.

1. The customers are those the viewer sees that were created in ``[since, until)``; the reps
   are the team's (a manager's own team by default, every rep for an admin).
2. A model is trained on the deals decided before ``since`` only — the period's outcomes
   never leak into it — and scores every strategy. With too little history the reps' win
   rates before the period score instead, and the result says so (``scored_by``).
3. Day by day (the organization's calendar), each strategy routes the day's arrivals through
   the real planner, with the reps' capacities at the time: their holdings when the period
   began plus what the replay gave them, their daily quota and holding cap (the default
   pool's policy with their overrides), leave on the day.
4. Per strategy: ``expected_wins`` (the model's P(win) summed over the choices),
   ``gini_workload`` (Gini of the customers each rep received), ``recycled`` (the expected
   recycles: each rep's recycle rate in the half-year before, shrunk toward the team's),
   ``assigned``, and the customers per rep. ``actual`` replays what really happened: the
   first owner each customer had, and the recycles that really followed.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import Role, Team, User
from highseas.accounts.visibility import Viewer
from highseas.engine.bounds import MIN_YEAR
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.insights import gini
from highseas.engine.limits import effective_limits
from highseas.engine.ownership import EventKind
from highseas.engine.planner import PlanState, RoutedCustomer, Rule, plan
from highseas.engine.routing import Candidate, Load, smoothed_win_rate
from highseas.engine.smart import Fallback, Scoring
from highseas.engine.targets import (
    AVAILABLE,
    DEFAULT_FAIRNESS,
    MAX_FAIRNESS,
    Strategy,
    TeamTarget,
)
from highseas.pools.facts import on_leave
from highseas.pools.models import OwnershipEvent
from highseas.pools.policies import claim_limits, rep_overrides
from highseas.pools.services import default_pool
from highseas.smart.history import Workloads, decided_deals, rep_facts
from highseas.smart.models import Simulation
from highseas.smart.record import Record
from highseas.smart.scoring import ModelScorer
from highseas.smart.validate import train

ACTUAL = "actual"
SIMULATED = (*AVAILABLE, ACTUAL)
RECYCLE_WINDOW = timedelta(days=180)
RECYCLE_PRIOR = 10  # customers' worth of the team's rate in each rep's recycle rate
WIN_RATE_WINDOW = timedelta(days=90)
FIELDS = (
    "industry",
    "province",
    "city",
    "employees",
    "revenue_band",
    "source",
    "campaign",
    "level",
    "kind",
    "tags",
)
GAINS = (EventKind.CLAIMED, EventKind.ASSIGNED, EventKind.TRANSFERRED)
LOSSES = (EventKind.RELEASED, EventKind.RECYCLED, EventKind.TRANSFERRED, EventKind.MERGED)


def _refuse(message: str, **facts: Any) -> HighSeasError:
    return HighSeasError(ErrorCode.VALIDATION_ERROR, message, **facts)


def _reps(viewer: Viewer, team_id: int | None) -> tuple[Team | None, list[User]]:
    if team_id is None and not viewer.is_admin:
        team_id = viewer.user.team_id
    team = Team.objects.filter(pk=team_id).first() if team_id is not None else None
    if team_id is not None and team is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such team."))
    if team is not None and not viewer.is_admin and team.pk not in viewer.subtree_team_ids:
        raise HighSeasError(ErrorCode.PERMISSION_DENIED, _("This team is not yours."))
    reps = User.objects.filter(role=Role.REP).select_related("profile").order_by("pk")
    if team is not None:
        reps = reps.filter(team__path__startswith=team.path)
    return team, list(reps)


class Replay:
    """What every strategy of one simulation shares: the reps, the days, the scores."""

    def __init__(self, viewer: Viewer, reps: list[User], since: datetime, until: datetime):
        self.reps, self.since, self.until = reps, since, until
        self.rep_ids = [rep.pk for rep in reps]
        customers = viewer.customers().filter(
            created_at__gte=since, created_at__lt=until, merged_into__isnull=True
        )
        rows = list(
            customers.order_by("created_at", "pk").values(
                "pk", "created_at", "custom_fields", *FIELDS
            )
        )
        self.customers = [
            RoutedCustomer(
                row["pk"], None, {**{f: row[f] for f in FIELDS}, "custom": row["custom_fields"]}
            )
            for row in rows
        ]
        self.days: dict[date, list[int]] = defaultdict(list)
        for index, row in enumerate(rows):
            self.days[timezone.localtime(row["created_at"]).date()].append(index)
        self.examples = decided_deals(since)
        self.trained = train(self.examples)
        self.scoring = self._scoring()
        self.p = self._probabilities()
        self.holdings = self._holdings()
        self.pool_limits = claim_limits(default_pool())

    def _scoring(self) -> Scoring:
        if self.trained.model is None:
            return Fallback(self.trained.fallback)
        workloads = Workloads(self.since)
        known = {
            u.pk: (
                u.team_id,
                getattr(getattr(u, "profile", None), "level", "") or "",
                u.date_joined,
            )
            for u in self.reps
        }
        facts = {rep: rep_facts(self.since, workloads, known, rep) for rep in self.rep_ids}
        return ModelScorer(self.trained.model, 0, facts, Record.of(self.examples))

    def win_rates(self, window: timedelta | None = WIN_RATE_WINDOW) -> dict[int, float]:
        start = self.since - window if window else None
        won: Counter[int] = Counter()
        lost: Counter[int] = Counter()
        for example in self.examples:
            if start is None or example.at >= start:
                (won if example.won else lost)[example.rep.rep] += 1
        return {rep: smoothed_win_rate(won[rep], lost[rep]) for rep in self.rep_ids}

    def _probabilities(self) -> np.ndarray:
        candidates = [Candidate(rep) for rep in self.rep_ids]
        if isinstance(self.scoring, ModelScorer) and self.customers and candidates:
            return self.scoring.probabilities([c.fields for c in self.customers], candidates)
        rates = self.win_rates(None)
        row = np.array([rates[rep] for rep in self.rep_ids], dtype=np.float64)
        return np.tile(row, (len(self.customers), 1))

    @property
    def scored_by(self) -> str:
        return "model" if isinstance(self.scoring, ModelScorer) else "win_rates"

    def _holdings(self) -> dict[int, int]:
        before = OwnershipEvent.objects.filter(at__lt=self.since)
        gains = before.filter(to_owner_id__in=self.rep_ids, kind__in=GAINS)
        losses = before.filter(from_owner_id__in=self.rep_ids, kind__in=LOSSES)
        held: Counter[int] = Counter()
        for owner, n in (
            gains.values("to_owner_id").annotate(n=Count("id")).values_list("to_owner_id", "n")
        ):
            held[owner] += n
        for owner, n in (
            losses.values("from_owner_id").annotate(n=Count("id")).values_list("from_owner_id", "n")
        ):
            held[owner] -= n
        return {rep: max(0, held[rep]) for rep in self.rep_ids}

    def recycle_rates(self) -> dict[int, float]:
        window = OwnershipEvent.objects.filter(
            at__gte=self.since - RECYCLE_WINDOW, at__lt=self.since
        )
        received = Counter(
            dict(
                window.filter(to_owner_id__in=self.rep_ids, kind__in=GAINS)
                .values("to_owner_id")
                .annotate(n=Count("id"))
                .values_list("to_owner_id", "n")
            )
        )
        recycled = Counter(
            dict(
                window.filter(from_owner_id__in=self.rep_ids, kind=EventKind.RECYCLED)
                .values("from_owner_id")
                .annotate(n=Count("id"))
                .values_list("from_owner_id", "n")
            )
        )
        team_rate = (sum(recycled.values()) + 1) / (sum(received.values()) + 2)
        return {
            rep: (recycled[rep] + RECYCLE_PRIOR * team_rate) / (received[rep] + RECYCLE_PRIOR)
            for rep in self.rep_ids
        }

    def candidates(
        self, day: date, held: dict[int, int], rates: dict[int, float]
    ) -> list[Candidate]:
        found = []
        for rep in self.reps:
            profile = getattr(rep, "profile", None)
            limits = effective_limits(self.pool_limits, rep_overrides(profile))
            found.append(
                Candidate(
                    rep.pk,
                    rep.label,
                    is_active=rep.is_active and (profile is None or profile.is_active),
                    on_leave=profile is not None and on_leave(profile, day),
                    holdings=held[rep.pk],
                    holding_cap=limits.holding_cap,
                    daily_capacity=limits.daily_quota,
                    win_rate=rates.get(rep.pk, 0.5),
                )
            )
        return found

    def route(self, strategy: str, fairness: float, seed: int) -> list[int | None]:
        """The owner each customer gets under ``strategy`` (None: stays pooled)."""
        target = TeamTarget(0, Strategy(strategy), above_mean=fairness)
        rule = Rule(1, strategy, {}, target)
        state = PlanState.fresh(seed)
        held = dict(self.holdings)
        rates = self.win_rates()
        owners: list[int | None] = [None] * len(self.customers)
        for day in sorted(self.days):
            indexes = self.days[day]
            team = self.candidates(day, held, rates)
            state.loads = {c.rep_id: Load.of(c) for c in team}
            decided = plan(
                [self.customers[i] for i in indexes],
                [rule],
                {0: team},
                state=state,
                scoring=self.scoring,
            ).decisions
            for index, decision in zip(indexes, decided, strict=True):
                owners[index] = decision.owner_id
                if decision.owner_id is not None:
                    held[decision.owner_id] += 1
        return owners

    def actual(self) -> tuple[list[int | None], int]:
        ids = [c.customer_id for c in self.customers]
        first: dict[int, int] = {}
        events = OwnershipEvent.objects.filter(
            customer_id__in=ids,
            at__lt=self.until,
            kind__in=(*GAINS, EventKind.CREATED),
            to_owner__isnull=False,
        )
        for customer, owner in events.order_by("at", "pk").values_list(
            "customer_id", "to_owner_id"
        ):
            first.setdefault(customer, owner)
        recycled = OwnershipEvent.objects.filter(
            customer_id__in=ids, kind=EventKind.RECYCLED, at__gte=self.since, at__lt=self.until
        ).count()
        return [first.get(i) for i in ids], recycled

    def figures(self, owners: Sequence[int | None], recycles: dict[int, float]) -> dict[str, Any]:
        column = {rep: i for i, rep in enumerate(self.rep_ids)}
        per_rep = Counter(o for o in owners if o is not None)
        expected = sum(float(self.p[i, column[o]]) for i, o in enumerate(owners) if o in column)
        return {
            "expected_wins": round(expected, 2),
            "gini_workload": round(gini([per_rep.get(rep, 0) for rep in self.rep_ids]), 4),
            "recycled": round(sum(recycles.get(o, 0.0) for o in owners if o is not None), 1),
            "assigned": sum(per_rep.values()),
            "unassigned": len(owners) - sum(per_rep.values()),
            "per_rep": {str(rep): per_rep.get(rep, 0) for rep in self.rep_ids},
        }


def require_simulator(viewer: Viewer) -> None:
    if not viewer.is_manager_or_admin:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only a manager or an admin may run simulations.")
        )


def simulate(
    viewer: Viewer,
    *,
    since: datetime,
    until: datetime,
    strategies: Sequence[str],
    team_id: int | None = None,
    fairness: float = DEFAULT_FAIRNESS,
    seed: int = 0,
    now: datetime | None = None,
) -> Simulation:
    """Replay ``[since, until)`` under each strategy; the stored comparison."""
    require_simulator(viewer)
    now = now or timezone.now()
    if not since < until <= now + timedelta(days=1):
        raise _refuse(_("The period must end after it starts, and not in the future."))
    if not 0 <= fairness <= MAX_FAIRNESS:  # NaN fails too
        raise _refuse(
            _("The fairness bound is a number from 0 to %(most)s.") % {"most": MAX_FAIRNESS}
        )
    if since.year < MIN_YEAR:
        raise _refuse(_("The period must start in %(year)s or later.") % {"year": MIN_YEAR})
    unknown = [s for s in strategies if s not in SIMULATED]
    if not strategies or unknown:
        raise _refuse(
            _("Name one or more of %(known)s.") % {"known": ", ".join(SIMULATED)}, unknown=unknown
        )
    started = time.perf_counter()
    team, reps = _reps(viewer, team_id)
    replay = Replay(viewer, reps, since, until)
    recycles = replay.recycle_rates()
    results: dict[str, Any] = {}
    for strategy in dict.fromkeys(strategies):
        if strategy == ACTUAL:
            owners, recycled = replay.actual()
            results[strategy] = {**replay.figures(owners, recycles), "recycled": recycled}
        else:
            results[strategy] = replay.figures(replay.route(strategy, fairness, seed), recycles)
    return Simulation.objects.create(
        created_at=now,
        created_by=viewer.user,
        since=since,
        until=until,
        team=team,
        strategies=list(results),
        fairness=fairness,
        seed=seed,
        model_deals=replay.trained.deals,
        model_metrics={k: v for k, v in replay.trained.metrics.items() if k != "calibration"},
        fallback=replay.trained.fallback,
        results={
            "customers": len(replay.customers),
            "reps": {str(u.pk): u.label for u in reps},
            "scored_by": replay.scored_by,
            "strategies": results,
        },
        seconds=round(time.perf_counter() - started, 3),
    )


def _visible(viewer: Viewer) -> QuerySet[Simulation]:
    require_simulator(viewer)
    found = Simulation.objects.order_by("-id")
    return found if viewer.is_admin else found.filter(created_by=viewer.user)


def simulations(viewer: Viewer, limit: int = 20) -> list[Simulation]:
    """The viewer's latest simulations (every one for an admin)."""
    return list(_visible(viewer)[:limit])


def simulation(viewer: Viewer, pk: int) -> Simulation:
    found = _visible(viewer).filter(pk=pk).first()
    if found is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such simulation."))
    return found
