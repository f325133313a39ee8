"""Which pools a viewer may open: those they belong to (``Viewer.pools``); a reassign queue
is a manager's work list, so reps never list one, on the API or the web."""

from __future__ import annotations

from django.db.models import QuerySet

from highseas.accounts.visibility import Viewer
from highseas.pools.models import Pool


def listable_pools(viewer: Viewer) -> QuerySet[Pool]:
    pools = viewer.pools().order_by("is_reassign_queue", "name")
    if viewer.is_manager_or_admin:
        return pools
    return pools.filter(is_reassign_queue=False)
