"""A due time closer than the warning window when the customer is taken is not warned at the
claim: the owner is warned part of the way to it (half-way by default), by every path that
writes the schedule — the claim, the policy recompute — and the sweep keeps to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings

from highseas.customers.models import Customer
from highseas.intake.creation import create_customer
from highseas.notify.models import Notification
from highseas.pools import ownership
from highseas.pools.models import Pool
from highseas.pools.recompute import recompute_pool_schedules
from highseas.pools.services import save_pool
from highseas.pools.sweep import sweep

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FIRST_CONTACT = {"first_contact_hours": 48, "warn_days": 3}  # due in 2 days, warned 3 ahead


def claimed(org: dict[str, Any], policy: dict[str, Any]) -> Customer:
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    save_pool(pool, recycle_policy=policy)
    customer = create_customer(
        actor=org["admin"], pool=pool, now=T0, fields={"name": "温州瓯江鞋业有限公司"}
    ).customer
    ownership.claim(org["rep_a"], customer.pk, now=T0)
    return Customer.objects.get(pk=customer.pk)


def test_a_claim_inside_the_warning_window_is_warned_half_way(org: dict[str, Any]) -> None:
    customer = claimed(org, FIRST_CONTACT)
    assert customer.recycle_due_at == T0 + timedelta(hours=48)
    assert customer.warn_at == T0 + timedelta(hours=24)


def test_the_sweep_does_not_warn_at_the_claim_but_half_way(org: dict[str, Any]) -> None:
    customer = claimed(org, FIRST_CONTACT)
    assert sweep(T0 + timedelta(minutes=1)).warned == []
    assert not Notification.objects.filter(kind="recycle_warning").exists()
    warned = sweep(T0 + timedelta(hours=24, minutes=1)).warned
    assert [item.customer for item in warned] == [customer.pk]


def test_a_policy_recompute_gives_the_same_late_warning(org: dict[str, Any]) -> None:
    customer = claimed(org, {"idle_days": 30, "warn_days": 3})
    assert customer.warn_at == T0 + timedelta(days=27)
    save_pool(Pool.objects.get(pk=org["east_pool"].pk), recycle_policy=FIRST_CONTACT)
    recompute_pool_schedules(Pool.objects.get(pk=org["east_pool"].pk))
    customer.refresh_from_db()
    assert customer.warn_at == T0 + timedelta(hours=24)


@override_settings(HIGHSEAS_LATE_WARNING_FRACTION=0.75)
def test_the_fraction_is_a_setting(org: dict[str, Any]) -> None:
    assert claimed(org, FIRST_CONTACT).warn_at == T0 + timedelta(hours=36)
