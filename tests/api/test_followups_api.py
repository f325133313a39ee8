"""Follow-ups and deals move the recycle clock; contacts arrive masked where the customer is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools import ownership
from highseas.pools.models import RecyclePolicy

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


@pytest.fixture
def mine(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(
        idle_days=7, warn_days=3, first_contact_hours=None, exempt_won=True
    )
    customer = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(org["rep_a"], customer.pk)
    customer.refresh_from_db()
    return customer


def test_an_effective_follow_up_resets_the_countdown(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    before = mine.recycle_due_at
    assert before is not None
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/activities/",
        {
            "kind": "call",
            "note": "电话沟通需求，客户有意向",
            "outcome": "有意向",
            "next_contact_at": (timezone.now() + timedelta(days=2)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    mine.refresh_from_db()
    assert mine.recycle_due_at is not None and mine.recycle_due_at > before
    assert mine.last_effective_activity_at is not None
    assert mine.stage == "contacted"


def test_a_note_does_not_reset_the_idle_clock(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    before = mine.recycle_due_at
    api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/activities/",
        {"kind": "note", "note": "内部备注"},
        format="json",
    )
    mine.refresh_from_db()
    assert (mine.recycle_due_at, mine.last_effective_activity_at) == (before, None)
    assert mine.last_activity_at is not None


def test_a_follow_up_in_the_future_is_refused(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/activities/",
        {"kind": "call", "occurred_at": (timezone.now() + timedelta(days=1)).isoformat()},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert not mine.activities.exists()


def test_another_rep_cannot_log_on_my_customer(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    response = api(org["rep_b"]).post(
        f"/api/v1/customers/{mine.pk}/activities/", {"kind": "call"}, format="json"
    )
    assert response.status_code == 404
    assert not mine.activities.exists()


def test_winning_a_deal_exempts_the_customer(org: dict[str, Any], mine: Customer, api: Api) -> None:
    client = api(org["rep_a"])
    deal = client.post(
        f"/api/v1/customers/{mine.pk}/deals/",
        {"amount": "128000.00", "name": "年度框架合同"},
        format="json",
    )
    assert deal.status_code == 201, deal.content
    won = client.patch(
        f"/api/v1/customers/{mine.pk}/deals/{deal.json()['id']}/", {"stage": "won"}, format="json"
    )
    assert won.status_code == 200, won.content
    assert won.json()["won_at"] is not None
    mine.refresh_from_db()
    assert (mine.stage, mine.recycle_due_at, mine.warn_at) == ("won", None, None)


def test_a_negative_deal_amount_is_refused(org: dict[str, Any], mine: Customer, api: Api) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/deals/", {"amount": "-5"}, format="json"
    )
    assert response.json()["code"] == "validation_error"


def test_contacts_of_a_pooled_customer_arrive_masked(
    org: dict[str, Any], make_customer: Callable[..., Customer], api: Api
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    api(org["admin"]).post(
        f"/api/v1/customers/{customer.pk}/contacts/",
        {
            "name": "张伟",
            "title": "采购经理",
            "phones": ["13800138000"],
            "email": "zhang.wei@example.com",
            "birthday": "1985-06-01",
        },
        format="json",
    )
    contacts = api(org["rep_a"]).get(f"/api/v1/customers/{customer.pk}/contacts/").json()
    assert contacts[0]["phones"] == ["138****8000"]
    assert contacts[0]["email"] == "z***@example.com"
    assert contacts[0]["birthday"] is None
    full = api(org["admin"]).get(f"/api/v1/customers/{customer.pk}/contacts/").json()
    assert full[0]["phones"] == ["13800138000"]
