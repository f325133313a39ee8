"""Assignment runs and explanations, asked by a viewer.

1. Managers and admins run the rules (``rules.require_rule_manager``): an admin any pool or
   all pools at once, a manager a pool they belong to, named (``validation_error`` without
   one, ``not_pool_member`` for another).
2. A real run at a moment other than the present needs time travel (``pools.moments``).
3. The run history: admins see every run; a manager the runs of their pools, the runs
   they triggered, and the runs over every pool (a new customer's, an import's) that
   decided about a customer of their pools.
4. Explaining a customer: the latest rule decision about a customer the viewer sees
   (``not_found`` otherwise, and when no rule has decided yet); a rep sees their own standing
   among the candidates, not their colleagues'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.visibility import Viewer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.models import Pool
from highseas.pools.moments import require_allowed_moment
from highseas.routing import rules
from highseas.routing.explain import render, rep_names
from highseas.routing.models import AssignmentDecision, AssignmentRun
from highseas.routing.runs import RunResult
from highseas.routing.services import latest_decision, run_assignment


def runs_visible_to(viewer: Viewer) -> QuerySet[AssignmentRun]:
    rules.require_rule_manager(viewer)
    runs = AssignmentRun.objects.all()
    if viewer.is_admin:
        return runs
    # a run over every pool (a new customer's, an import's) shows where it decided in theirs
    decided_here = AssignmentDecision.objects.filter(
        run=OuterRef("pk"), customer__pool_id__in=viewer.member_pool_ids
    )
    return runs.filter(
        Q(pool_id__in=viewer.member_pool_ids)
        | Q(triggered_by=viewer.user)
        | Q(pool__isnull=True, dry_run=False) & Exists(decided_here)
    )


def run_pool(viewer: Viewer, pool: Pool | None) -> Pool | None:
    """The pool a run covers: admins any pool or all (``None``); managers name one of theirs."""
    if viewer.is_admin:
        return pool
    if pool is None:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Name the pool to run the rules on."),
            errors={"pool": ["required"]},
        )
    if pool.pk not in viewer.member_pool_ids:
        raise HighSeasError(ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."))
    return pool


def assignment_run(
    viewer: Viewer,
    *,
    pool: Pool | None,
    dry_run: bool,
    now: datetime | None = None,
    seed: int | None = None,
) -> RunResult:
    """Run the rules over a pool's backlog, or preview it with ``dry_run``."""
    rules.require_rule_manager(viewer)
    require_allowed_moment(now, dry_run=dry_run, job="run")
    return run_assignment(
        viewer.user, pool=run_pool(viewer, pool), dry_run=dry_run, now=now, seed=seed
    )


def explanation(viewer: Viewer, customer_id: int) -> dict[str, Any]:
    """Why the customer went where it went, as far as this viewer may know."""
    if not viewer.customers().filter(pk=customer_id).exists():
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    decision = latest_decision(customer_id)
    if decision is None:
        raise HighSeasError(
            ErrorCode.NOT_FOUND, _("No assignment rule has decided about this customer yet.")
        )
    explained = decision.explained()
    rendered = render(explained, rep_names([explained]))
    if not rules.may_manage_rules(viewer):
        rendered["candidates"] = [c for c in rendered["candidates"] if c["rep"] == viewer.user.pk]
    return {
        "customer": customer_id,
        "run": decision.run_id,
        "at": decision.at,
        "rule": decision.rule_id,
        "owner": decision.owner_id,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "explanation": rendered,
    }
