"""The 公共检索 page's search, for any signed-in viewer: ``customers.search`` through the
viewer's exact-lookup limit (``pools.lookups.public_search``), under the organization's
public search settings (``customers.public.public_settings``):

1. a row shows the configured basic fields and the public status, nothing else;
2. with the scope ``prospects``, won customers are left out;
3. only the statuses the settings list are shown.
A page may hold fewer rows than asked when rules 2–3 leave some out; the cursor still moves
on by the search's own order, so no row is skipped or repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStage
from highseas.customers.models import Customer
from highseas.customers.public import PublicSettings, public_settings
from highseas.pools.lookups import public_search

PAGE_SIZE = 20


@dataclass(frozen=True)
class PublicResults:
    rows: list[dict[str, Any]]
    next_before: int | None
    settings: PublicSettings


def find_public(
    viewer: Viewer, text: str, *, before: int | None = None, address: str | None = None
) -> PublicResults:
    """One page of public search results for the viewer, by the module's rules."""
    current = public_settings()
    page = public_search(viewer, text, before=before, limit=PAGE_SIZE, address=address)
    ids = [row["id"] for row in page.rows]
    won = (
        set(
            Customer.objects.filter(pk__in=ids, stage=CustomerStage.WON).values_list(
                "pk", flat=True
            )
        )
        if current.prospects_only
        else set()
    )
    shown = ("id", "status", *current.fields)
    rows = [
        {name: row.get(name) for name in shown}
        for row in page.rows
        if row["id"] not in won and row["status"] in current.statuses
    ]
    return PublicResults(rows, page.next_before, current)
