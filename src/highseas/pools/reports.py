"""Sweep reports and recycle previews, asked by a viewer and scoped to what they see in full.

1. Managers and admins only (``permission_denied`` otherwise).
2. An admin's report covers every customer. A manager's covers the customers held by
   themselves and by the people of their team subtree: the very customers they see in full
   (``Viewer.sees_in_full``). The scope restricts the work, not only the listing: a manager's
   real sweep recycles, unfreezes and warns only those.
3. A manager names only a pool they belong to (``not_pool_member`` for a sweep; a recycle
   preview of a pool they cannot see is ``not_found``).
4. A real sweep at another moment needs time travel (``pools.moments``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.moments import require_allowed_moment
from highseas.pools.policy_edits import require_valid_level_overrides
from highseas.pools.preview import PolicyPreview, preview_policy
from highseas.pools.sweep import Scope, SweepReport, sweep


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
