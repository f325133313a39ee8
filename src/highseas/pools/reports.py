"""Sweep reports and recycle previews, asked by a viewer and scoped to what they see in full.

1. Managers and admins only (``permission_denied`` otherwise).
2. An admin's report covers every customer. A manager's covers the customers held by
   themselves and by the people of their team subtree: the very customers they see in full
   (``Viewer.sees_in_full``). The scope restricts the work, not only the listing: a manager's
   real sweep recycles, unfreezes and warns only those.
3. A manager names only a pool they belong to (``not_pool_member`` for a sweep; a recycle
   preview of a pool they cannot see is ``not_found``).
4. A real sweep at another moment needs time travel (``pools.moments``).
5. The console's preview is bounded (``sweep_preview``): it judges the first due customers
   and counts the warnings, so that it answers at once at a million customers; the complete
   dry run (``sweep_report``) is a click away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.moments import require_allowed_moment
from highseas.pools.policy_edits import require_valid_level_overrides
from highseas.pools.preview import PolicyPreview, preview_policy
from highseas.pools.sweep import (
    PoolCache,
    Scope,
    SweepReport,
    _decide,
    _due_batches,
    _preview_expired_freezes,
    _warned,
    sweep,
)

PREVIEW_DUE = 200  # due customers a bounded preview judges (in one batch)
PREVIEW_FREEZES = 25  # ended freezes it judges (the sweep judges them one by one)
PREVIEW_WARNED = 15  # warnings a bounded preview lists
PREVIEW_WARNED_COUNT = 2_000  # warnings it counts; above, "at least"


def require_report_reader(viewer: Viewer) -> None:
    if not viewer.is_manager_or_admin:
        raise HighSeasError(ErrorCode.PERMISSION_DENIED, _("Only managers may run sweeps."))


def full_view_owner_ids(viewer: Viewer) -> frozenset[int] | None:
    """Owners whose customers the viewer sees in full; ``None`` means everyone's (admins)."""
    if viewer.is_admin:
        return None
    ids = {viewer.user.pk}
    if viewer.subtree_team_ids:
        team = User.objects.filter(team_id__in=viewer.subtree_team_ids)
        ids.update(team.values_list("pk", flat=True))
    return frozenset(ids)


@dataclass(frozen=True)
class SweepPreview:
    """A bounded dry run: ``report`` judged the first ``PREVIEW_FREEZES`` ended freezes and
    the first due customers (all of them when ``complete``) and lists the first warnings;
    ``warned_count`` counts them up to ``PREVIEW_WARNED_COUNT`` (all unless ``warned_capped``).
    """

    report: SweepReport
    warned_count: int
    complete: bool
    warned_capped: bool = False


@dataclass(frozen=True)
class _Only(Scope):
    """A scope narrowed to the given customers (the first ones a bounded preview judges)."""

    only: frozenset[int] = frozenset()

    def apply(self, customers: QuerySet[Customer]) -> QuerySet[Customer]:
        return super().apply(customers).filter(pk__in=sorted(self.only))


def _scope(viewer: Viewer, now: datetime | None, pool: int | None, owner: int | None) -> Scope:
    require_report_reader(viewer)
    if pool is not None and not viewer.is_admin and pool not in viewer.member_pool_ids:
        raise HighSeasError(ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."))
    require_allowed_moment(now, dry_run=True, job="sweep")
    return Scope(pool_id=pool, owner_id=owner, owner_ids=full_view_owner_ids(viewer))


def sweep_preview(
    viewer: Viewer,
    *,
    now: datetime,
    pool: int | None = None,
    owner: int | None = None,
    limit: int | None = None,
) -> SweepPreview:
    """What a sweep at ``now`` would do, judged by the sweep's own code for the first ended
    freezes and ``limit`` due customers in the order it takes them, with the warnings counted
    (up to ``PREVIEW_WARNED_COUNT``) and the soonest due listed: the same figures as
    ``sweep_report``'s dry run when ``complete``. Warnings are read soonest due first (a
    warning falls shortly before its due time, so they lie together on the due-time index;
    by warning time they lie among the customers already due). Nothing is written."""
    limit = PREVIEW_DUE if limit is None else limit
    scope = _scope(viewer, now, pool, owner)
    report = SweepReport(now=now, dry_run=True)
    ending = scope.apply(
        Customer.objects.filter(status=CustomerStatus.FROZEN, frozen_until__lte=now)
    ).order_by("frozen_until", "pk")
    first_ending = list(ending.values_list("pk", flat=True)[: PREVIEW_FREEZES + 1])
    if first_ending:
        only = frozenset(first_ending[:PREVIEW_FREEZES])
        _preview_expired_freezes(
            report, _Only(scope.pool_id, scope.owner_id, scope.owner_ids, only)
        )
    batch = next(_due_batches(now, scope, limit + 1, lock=False), [])
    items, stale = _decide(batch[:limit], now, PoolCache(create_queues=False))
    report.recycled.extend(items)
    report.corrected += len(stale)
    warnable = scope.apply(
        Customer.objects.filter(
            status=CustomerStatus.OWNED, warn_at__lte=now, recycle_due_at__gt=now
        )
    )
    soonest = warnable.order_by("recycle_due_at", "pk")
    # counted in no order (any PREVIEW_WARNED_COUNT of them say "at least"), from the
    # ``customer_warn_window`` index alone: the ordered count sorted and read each row
    counted = warnable.order_by()[:PREVIEW_WARNED_COUNT].count()
    count = counted + len(report.warned)
    # the list holds PREVIEW_WARNED in all: the customers whose freeze ended and who are
    # already in their warning window (``_preview_expired_freezes``), then the soonest due
    first = soonest.select_related("owner")[: max(0, PREVIEW_WARNED - len(report.warned))]
    report.warned.extend(_warned(customer) for customer in first)
    complete = len(batch) <= limit and len(first_ending) <= PREVIEW_FREEZES
    return SweepPreview(report, count, complete, warned_capped=counted >= PREVIEW_WARNED_COUNT)


def sweep_report(
    viewer: Viewer,
    *,
    now: datetime | None = None,
    dry_run: bool = True,
    pool: int | None = None,
    owner: int | None = None,
    batch_size: int = 500,
) -> SweepReport:
    """Run (or preview, with ``dry_run``) a sweep over what the viewer sees in full."""
    require_report_reader(viewer)
    if pool is not None and not viewer.is_admin and pool not in viewer.member_pool_ids:
        raise HighSeasError(ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."))
    require_allowed_moment(now, dry_run=dry_run, job="sweep")
    scope = Scope(pool_id=pool, owner_id=owner, owner_ids=full_view_owner_ids(viewer))
    return sweep(now, dry_run=dry_run, batch_size=batch_size, scope=scope)


def recycle_preview(
    viewer: Viewer,
    pool_id: int,
    changes: dict[str, Any],
    *,
    days: int = 7,
    now: datetime | None = None,
) -> PolicyPreview:
    """What the proposed recycle settings would take back in the next ``days``, among the
    pool's customers the viewer sees in full. Nothing is written."""
    require_report_reader(viewer)
    pool = (
        viewer.pools().select_related("claim_policy", "recycle_policy").filter(pk=pool_id).first()
    )
    if pool is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such pool."))
    require_valid_level_overrides(changes)
    return preview_policy(pool, changes, days=days, now=now, owner_ids=full_view_owner_ids(viewer))
