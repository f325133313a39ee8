"""``routing.snapshots.AssignedToday``: what a run's later batches add to each rep's count of
the day (the ``assigned`` rows past the mark, read by the primary key first) is what counting
the whole day again (``facts.assigned_on``) finds, whatever else the ledger holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.pools.facts import assigned_on
from highseas.pools.ledger import Entry, record_events
from highseas.routing.snapshots import AssignedToday

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=timezone.get_default_timezone())


def write(customer: Customer, kind: EventKind, owner_id: int, at: datetime) -> None:
    pool_id = customer.pool_id
    record_events(
        [
            Entry(
                customer.pk,
                kind,
                OwnershipState(Status.POOLED, None, pool_id),
                OwnershipState(Status.OWNED, owner_id, pool_id),
                "test",
                actor_label="system:test",
            )
        ],
        at=at,
    )


def test_a_later_reading_adds_what_counting_the_day_again_finds(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    rep_a, rep_b, rep_c = org["rep_a"], org["rep_b"], org["rep_c"]
    customer = make_customer(org["admin"], pool=org["east_pool"])
    write(customer, EventKind.ASSIGNED, rep_a.pk, NOW)  # before the first reading
    today = AssignedToday([rep_a.pk, rep_b.pk], NOW)
    assert today.read() == {rep_a.pk: 1}
    day_start = NOW.replace(hour=0)
    for kind, owner, at in [
        (EventKind.ASSIGNED, rep_a.pk, NOW),
        (EventKind.ASSIGNED, rep_a.pk, day_start),  # the day's first moment counts
        (EventKind.ASSIGNED, rep_b.pk, NOW + timedelta(hours=5)),
        (EventKind.ASSIGNED, rep_b.pk, day_start + timedelta(days=1)),  # the next day
        (EventKind.ASSIGNED, rep_b.pk, day_start - timedelta(seconds=1)),  # the day before
        (EventKind.CLAIMED, rep_a.pk, NOW),  # another kind
        (EventKind.ASSIGNED, rep_c.pk, NOW),  # a rep outside the reading
    ]:
        write(customer, kind, owner, at)
    counted = assigned_on([rep_a.pk, rep_b.pk], NOW)
    assert counted == {rep_a.pk: 3, rep_b.pk: 1}
    assert today.read() == counted
    write(customer, EventKind.ASSIGNED, rep_b.pk, NOW)
    assert today.read() == {rep_a.pk: 3, rep_b.pk: 2}
    assert today.read() == assigned_on([rep_a.pk, rep_b.pk], NOW)  # nothing new: as it was
