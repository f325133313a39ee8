"""The rule editor's questions: what a manager may pick, and what a rule would do before it
is saved.

1. A rule's pool, target user, team or pool are offered from the same authority that
   ``rules.check_rule`` enforces on save: admins everything; a manager the pools they belong
   to, the reps and teams of their subtree.
2. ``preview_rule`` validates the draft exactly as a save does (``rules.save_rule``, the
   service behind ``POST /api/v1/assignment-rules/``), saves it inside a savepoint, previews
   a run over the pool's current backlog (``routing.services.run_assignment`` with
   ``dry_run``: the code path of every real run) and rolls the savepoint back, so nothing
   of the draft, the preview or its log row remains. An inactive draft is previewed as if
   it were active, since a preview of nothing tells nothing.
3. On SQLite that transaction holds the one write lock from the draft's save to the rollback:
   over a backlog of 100,000 customers, ten seconds in which every claim of the server waits.
   A preview while more than ``IN_PLACE_BACKLOG`` customers are pooled (in any pool: one
   look at an index, cheaper than finding the draft's pool first) therefore runs on a private
   copy of the database (``config.sqlite.snapshot``, about a second per 200 MB); a smaller
   one, a fraction of a second, runs in place.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from highseas.accounts.models import Role, Team, User
from highseas.accounts.visibility import Viewer
from highseas.config.sqlite.snapshot import on_a_copy
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.planner import Decision, Outcome
from highseas.pools.models import Pool
from highseas.routing import rules
from highseas.routing.explain import render_decisions
from highseas.routing.models import AssignmentRule
from highseas.routing.services import run_assignment
from highseas.routing.snapshots import team_reps

# On SQLite, a rule preview over a backlog larger than this runs on a copy of the database
# (module rule 3): in place, 2,000 customers hold the write lock for about 0.2 s.
IN_PLACE_BACKLOG = 2000


def rule_pools(viewer: Viewer) -> QuerySet[Pool]:
    """The pools whose rules the viewer manages."""
    rules.require_rule_manager(viewer)
    pools = Pool.objects.order_by("name", "id")
    return pools if viewer.is_admin else pools.filter(pk__in=viewer.member_pool_ids)


def target_users(viewer: Viewer) -> QuerySet[User]:
    """The reps a rule of this viewer may route customers to."""
    rules.require_rule_manager(viewer)
    reps = User.objects.filter(role=Role.REP, is_active=True).select_related("team")
    if not viewer.is_admin:
        reps = reps.filter(pk__in=viewer.users().values("pk"))
    return reps.order_by("team__path", "display_name", "username")


def target_teams(viewer: Viewer) -> QuerySet[Team]:
    rules.require_rule_manager(viewer)
    teams = Team.objects.order_by("path")
    return teams if viewer.is_admin else teams.filter(pk__in=viewer.subtree_team_ids)


def team_members(viewer: Viewer, team_id: int | None) -> list[User]:
    """The reps of a team (and the teams below it) a weighted rule may weigh."""
    if team_id is None or not target_teams(viewer).filter(pk=team_id).exists():
        return []
    wanted = team_reps([team_id]).get(team_id, [])
    return list(target_users(viewer).filter(pk__in=wanted))


@dataclass(frozen=True)
class TargetNames:
    users: dict[int, str]
    teams: dict[int, str]
    pools: dict[int, str]


def target_names(viewer: Viewer, targets: list[dict[str, Any]]) -> TargetNames:
    """The names of the users, teams and pools the targets name, in three queries."""
    rules.require_rule_manager(viewer)
    ids = {kind: {t[kind] for t in targets if isinstance(t.get(kind), int)} for kind in TARGETS}
    return TargetNames(
        users={u.pk: u.label for u in User.objects.filter(pk__in=ids["user"])},
        teams=dict(Team.objects.filter(pk__in=ids["team"]).values_list("pk", "name")),
        pools=dict(Pool.objects.filter(pk__in=ids["pool"]).values_list("pk", "name")),
    )


TARGETS = ("user", "team", "pool")


@dataclass
class RulePreview:
    """What the draft rule would do to the backlog now, among the other active rules."""

    now: datetime
    taken: list[dict[str, Any]] = field(default_factory=list)  # the draft matched these
    by_other_rules: int = 0
    unmatched: int = 0
    considered: int = 0
    was_inactive: bool = False

    @property
    def assigned(self) -> list[dict[str, Any]]:
        return [row for row in self.taken if row["owner"] is not None]

    @property
    def kept(self) -> list[dict[str, Any]]:
        return [row for row in self.taken if row["owner"] is None]


def _rows(decisions: list[Decision], names: dict[int, str]) -> list[dict[str, Any]]:
    rendered, reps = render_decisions(decisions)
    return [
        {
            "customer": decision.customer_id,
            "customer_name": names.get(decision.customer_id, ""),
            "owner": decision.owner_id,
            "owner_name": reps.get(decision.owner_id or 0, ""),
            "reason": decision.reason,
            "summary": explanation["summary"],
            "candidates": explanation["candidates"],
        }
        for decision, explanation in zip(decisions, rendered, strict=True)
    ]


def _large_backlog() -> bool:
    """Whether a preview on SQLite would hold the write lock long (module rule 3)."""
    if connection.vendor != "sqlite":
        return False
    limit = int(getattr(settings, "HIGHSEAS_RULE_PREVIEW_IN_PLACE_BACKLOG", IN_PLACE_BACKLOG))
    pooled = Customer.objects.filter(status=CustomerStatus.POOLED).order_by()
    return bool(pooled.values_list("pk", flat=True)[limit : limit + 1])


def preview_rule(
    viewer: Viewer,
    rule: AssignmentRule | None,
    values: dict[str, Any],
    *,
    now: datetime | None = None,
    seed: int | None = None,
) -> RulePreview:
    """What saving ``values`` (onto ``rule``, or as a new rule) would do to the backlog of its
    pool now; refuses exactly what ``rules.save_rule`` refuses (module rule 2)."""
    now = now or timezone.now()
    was_inactive = not values.get("is_active", rule.is_active if rule else True)
    with on_a_copy() if _large_backlog() else nullcontext(False), transaction.atomic():
        # a fresh copy: saving writes the values onto the instance it is given
        fresh = AssignmentRule.objects.get(pk=rule.pk) if rule is not None else None
        draft = rules.save_rule(viewer, fresh, {**values, "is_active": True})
        result = run_assignment(viewer.user, pool=draft.pool, dry_run=True, now=now, seed=seed)
        transaction.set_rollback(True)
    mine = [d for d in result.decisions if d.rule_id == draft.pk]
    others = [d for d in result.decisions if d.rule_id not in (None, draft.pk)]
    return RulePreview(
        now=now,
        taken=_rows(mine, result.customer_names),
        by_other_rules=len(others),
        unmatched=sum(1 for d in result.decisions if d.outcome is Outcome.NO_RULE),
        considered=len(result.decisions),
        was_inactive=was_inactive,
    )
