"""Lists a viewer reads: which pools they may open — those they belong to (``Viewer.pools``);
a reassign queue is a manager's work list, so reps never list one, on the API or the web — and
the keyset pages of their customer lists (``listed_customers``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from django.db.models import Q, QuerySet

from highseas.accounts.visibility import Branch, Viewer
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.customers.search import listed_ids
from highseas.pools.models import Pool


def listable_pools(viewer: Viewer) -> QuerySet[Pool]:
    pools = viewer.pools().order_by("is_reassign_queue", "name")
    if viewer.is_manager_or_admin:
        return pools
    return pools.filter(is_reassign_queue=False)


# --- customer lists ---------------------------------------------------------------------------

PAGE_SIZE = 25  # rows on a page of a customer list on the web
NARROW_FILTERS = frozenset({"owner_id", "pool_id"})  # an index on them beats a walk


def listed_customers(
    viewer: Viewer,
    *,
    filters: Mapping[str, Any] | None = None,
    extra: Q | None = None,
    statuses: Collection[str] | None = None,
    text: str = "",
    after: int | None = None,
    before: int | None = None,
    limit: int,
) -> QuerySet[Customer]:
    """The customers a keyset page of a list needs, the one read path of the console's
    customer list and the API's (``Viewer.customers()`` narrowed by ``filters`` (field
    lookups), ``extra``, ``statuses`` and a name ``text`` (``customers.search.name_filter``'s
    match)): the first ``limit`` of them newest first below ``after``, or, with ``before``,
    oldest first above it — as a queryset of the viewer's customers, which the caller orders
    and slices as its page does (the same rows the one-statement filter gives).

    Read branch by branch (``Viewer.branches``), each newest first on its own index, and
    merged here; a name is read from the search indexes (``customers.search.listed_ids``)."""
    filters = dict(filters or {})
    if before is not None:
        after = None  # a page above a cursor (a keyset page reads ``before`` first)
    ids: set[int] = set()
    for branch in _split(viewer.branches(statuses), filters, statuses):
        if "pool_id" in filters and branch.pool_id not in (None, filters["pool_id"]):
            continue  # another pool's piece: nothing in it is in the pool asked for
        customers = branch.customers.filter(**filters)
        if extra is not None:
            customers = customers.filter(extra)
        ids.update(
            listed_ids(
                customers,
                text,
                below=after,
                above=before,
                limit=limit,
                walk_primary_key=branch.dense and not (NARROW_FILTERS & filters.keys()),
                few=branch.few,
            )
        )
    first = sorted(ids, reverse=before is None)[:limit]
    return viewer.customers().filter(pk__in=first)


def _split(
    branches: list[Branch], filters: Mapping[str, Any], statuses: Collection[str] | None
) -> list[Branch]:
    """A dense branch filtered by pool, status by status: each is then one range of the
    ``(status, pool, id)`` index, in id order."""
    if "pool_id" not in filters:
        return branches
    every = sorted(statuses) if statuses is not None else [s.value for s in CustomerStatus]
    split = []
    for branch in branches:
        split += (
            [Branch(branch.customers.filter(status=status)) for status in every]
            if branch.dense
            else [branch]
        )
    return split
