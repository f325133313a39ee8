"""Review: an import batch larger than one chunk of its routing run keeps the holding cap
and the daily quota when its rows are routed before they are inserted
(``bulk_assign.Unwritten``). A later chunk (or pool segment) counts the reps' holdings from
the customers table again, where the customers granted so far but not inserted yet are
missing; so the run must route such a batch in one chunk of one pool."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.db.models import Count
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.intake import imports
from highseas.intake.importer import Importer
from highseas.pools.models import OwnershipEvent
from highseas.routing import services
from tests.integration.test_review10_import_owned import CAP, NOW, _capped, _commit, _file

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("owned_write", [False, True], ids=["pooled-then-updated", "owned"])
@pytest.mark.parametrize("quota", [1000, 7], ids=["cap", "quota"])
def test_an_import_batch_larger_than_a_run_chunk_keeps_the_cap_and_quota(
    org: dict[str, Any], monkeypatch: Any, owned_write: bool, quota: int
) -> None:
    """The import batch (``imports.BATCH_SIZE``) can hold more customers than the routing
    run walks in one chunk (``RunOptions.batch_size``, 5,000 by default; 40 here): each chunk
    counts the reps' holdings from the customers table again, where a chunk's customers
    granted but not inserted yet are not."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    monkeypatch.setattr(imports, "BATCH_SIZE", 200)
    monkeypatch.setattr(
        services, "run_assignment", functools.partial(services.run_assignment, batch_size=40)
    )
    if not owned_write:
        monkeypatch.setattr(Importer, "_routes_before_insert", lambda self, rows: False)
    pool = _capped(org, quota=quota)
    job = _commit(org, pool, _file(150))
    assert job.rows.filter(action="create").count() == 150
    held = dict(
        Customer.objects.filter(owner__isnull=False)
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    given = dict(
        OwnershipEvent.objects.filter(kind="assigned")
        .values_list("to_owner_id")
        .annotate(n=Count("id"))
        .values_list("to_owner_id", "n")
    )
    limit = min(CAP, quota)
    assert held and max(held.values()) <= limit, held
    assert max(given.values()) <= limit, given
    assert held == given
