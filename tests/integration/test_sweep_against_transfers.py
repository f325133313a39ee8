"""A manager transferring due customers while a sweep recycles them, on real threads and
connections: the sweep's compare-and-set (one statement per source and destination pool,
checking the owner and the pool it read) against a transfer that now writes its
notifications in its own transaction. Each customer ends one way only: transferred (owned by
the receiver, no ``recycled`` row, the receiver and the former owner told once each) or
recycled (pooled, one ``recycled`` row, the transfer refused with no ledger row and nobody
told). Neither writer crashes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.notify.models import Notification
from highseas.pools import ownership
from highseas.pools.invariants import run_checks
from highseas.pools.models import ClaimPolicy, OwnershipEvent, RecyclePolicy
from highseas.pools.sweep import sweep
from tests.races import against_sweep

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.get_default_timezone())


def test_transfers_racing_the_sweep_leave_each_customer_transferred_or_recycled(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    pool = org["east_pool"]
    ClaimPolicy.objects.filter(pool=pool).update(holding_cap=1000, daily_quota=1000)
    RecyclePolicy.objects.filter(pool=pool).update(idle_days=7, warn_days=3)
    customers = []
    for _ in range(30):
        customer = make_customer(org["admin"], pool=pool, now=T0)
        ownership.claim(org["rep_a"], customer.pk, now=T0)
        customers.append(customer)
    now = T0 + timedelta(days=8)

    def transfer(customer: Customer) -> None:
        ownership.transfer(org["east_manager"], customer.pk, org["rep_b"], now=now)

    moved, refused, report = against_sweep(customers, transfer, lambda: sweep(now, batch_size=4))
    recycled = {item.customer for item in report.recycled}
    assert moved | refused == {c.pk for c in customers} and not moved & refused
    assert recycled == refused
    for customer in customers:
        customer.refresh_from_db()
        kinds = list(
            OwnershipEvent.objects.filter(customer=customer)
            .exclude(kind__in=["created", "claimed"])
            .values_list("kind", flat=True)
        )
        told = sorted(
            Notification.objects.filter(customer=customer, kind="transferred").values_list(
                "recipient_id", flat=True
            )
        )
        if customer.pk in moved:
            assert (customer.status, customer.owner_id, kinds) == (
                "owned",
                org["rep_b"].pk,
                ["transferred"],
            )
            assert told == sorted([org["rep_a"].pk, org["rep_b"].pk])
        else:
            assert (customer.status, customer.owner_id, kinds) == ("pooled", None, ["recycled"])
            assert told == []
    report = run_checks()
    assert report.ok, (report.problems, report.examples)
