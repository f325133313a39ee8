"""The database itself refuses states the ownership model forbids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from highseas.accounts.models import RepProfile, Team, User
from highseas.customers.models import Customer, Deal
from highseas.pools.models import AppendOnlyError, OwnershipEvent, Pool

pytestmark = pytest.mark.django_db


def _refused(make: Callable[[], Any]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_a_pooled_customer_cannot_have_an_owner(org: dict[str, Any]) -> None:
    _refused(
        lambda: Customer.objects.create(
            name="甲",
            status="pooled",
            pool=org["east_pool"],
            owner=org["rep_a"],
            created_at=timezone.now(),
        )
    )


def test_a_pooled_customer_must_sit_in_a_pool(org: dict[str, Any]) -> None:
    _refused(lambda: Customer.objects.create(name="乙", status="pooled", created_at=timezone.now()))


def test_an_owned_customer_must_have_an_owner(org: dict[str, Any]) -> None:
    _refused(
        lambda: Customer.objects.create(
            name="丙",
            status="owned",
            pool=org["east_pool"],
            owned_since=timezone.now(),
            created_at=timezone.now(),
        )
    )


def test_a_frozen_customer_needs_a_freeze_end(org: dict[str, Any]) -> None:
    _refused(
        lambda: Customer.objects.create(
            name="丁",
            status="frozen",
            owner=org["rep_a"],
            owned_since=timezone.now(),
            created_at=timezone.now(),
        )
    )


def test_an_unknown_status_is_refused(org: dict[str, Any]) -> None:
    _refused(
        lambda: Customer.objects.create(
            name="戊",
            status="lost",
            owner=org["rep_a"],
            owned_since=timezone.now(),
            created_at=timezone.now(),
        )
    )


def test_ledger_rows_cannot_be_changed_or_deleted(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["rep_a"], owner=org["rep_a"])
    event = OwnershipEvent.objects.get(customer=customer)
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert OwnershipEvent.objects.get(pk=event.pk).reason != "rewritten"


def test_a_ledger_row_needs_a_reason(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["rep_a"], owner=org["rep_a"])
    _refused(
        lambda: OwnershipEvent.objects.create(
            customer=customer,
            kind="claimed",
            to_status="owned",
            actor_label="x",
            reason="",
            at=timezone.now(),
        )
    )


def test_only_one_pool_is_the_default(org: dict[str, Any]) -> None:
    Pool.objects.create(name="默认一", is_default=True)
    _refused(lambda: Pool.objects.create(name="默认二", is_default=True))


def test_a_won_deal_has_a_won_date(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["rep_a"], owner=org["rep_a"])
    _refused(
        lambda: Deal.objects.create(
            customer=customer, amount=100, stage="won", created_at=timezone.now()
        )
    )


def test_a_deal_amount_is_not_negative(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["rep_a"], owner=org["rep_a"])
    _refused(lambda: Deal.objects.create(customer=customer, amount=-1, created_at=timezone.now()))


def test_leave_must_end_after_it_starts(org: dict[str, Any]) -> None:
    profile = RepProfile.objects.get(user=org["rep_a"])
    profile.leave_from = timezone.localdate()
    profile.leave_until = profile.leave_from.replace(year=profile.leave_from.year - 1)
    _refused(profile.save)


def test_team_paths_follow_the_tree(org: dict[str, Any]) -> None:
    head, east = org["head"], org["east"]
    assert east.path == f"{head.path}{east.pk}/"
    branch = Team(name="杭州组", parent=east)
    branch.save()
    assert branch.path == f"{east.path}{branch.pk}/"


def test_moving_a_team_moves_its_subtree(org: dict[str, Any]) -> None:
    east, south = org["east"], org["south"]
    branch = Team(name="杭州组", parent=east)
    branch.save()
    east.parent = south
    east.save()
    branch.refresh_from_db()
    assert branch.path == f"{south.path}{east.pk}/{branch.pk}/"


def test_every_user_made_by_the_service_has_a_profile(org: dict[str, Any]) -> None:
    assert not User.objects.filter(profile__isnull=True).exists()
