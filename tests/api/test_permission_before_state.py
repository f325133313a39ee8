"""Permission before state: an ownership action refused to the caller reveals nothing of the
customer's state (frozen or not, who holds it, until when) and changes nothing."""

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
from highseas.pools.models import ClaimPolicy, ClaimRequest, OwnershipEvent

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


@pytest.fixture
def theirs(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    """rep_b's customer, frozen for a month."""
    customer = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(org["rep_b"], customer.pk)
    ownership.freeze(
        org["rep_b"], customer.pk, until=timezone.now() + timedelta(days=30), reason="签约中"
    )
    customer.refresh_from_db()
    return customer


def _post(client: APIClient, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, body or {}, format="json")


def _events(customer: Customer) -> int:
    return OwnershipEvent.objects.filter(customer_id=customer.pk).count()


def test_freezing_another_reps_frozen_customer_reveals_no_freeze(
    org: dict[str, Any], theirs: Customer, api: Api
) -> None:
    before = _events(theirs)
    response = _post(
        api(org["rep_a"]),
        f"/api/v1/customers/{theirs.pk}/freeze/",
        {"until": (timezone.now() + timedelta(days=5)).isoformat(), "reason": "试试"},
    )
    body = response.json()
    assert (response.status_code, body["code"]) == (403, "not_owner")
    assert "frozen_until" not in body
    assert _events(theirs) == before


def test_unfreezing_another_reps_unfrozen_customer_reveals_no_state(
    org: dict[str, Any], make_customer: Callable[..., Customer], api: Api
) -> None:
    customer = make_customer(org["admin"], owner=org["rep_b"])
    response = _post(api(org["rep_a"]), f"/api/v1/customers/{customer.pk}/unfreeze/")
    assert (response.status_code, response.json()["code"]) == (403, "not_owner")


def test_assigning_an_owned_customer_as_a_rep_names_no_holder(
    org: dict[str, Any], theirs: Customer, api: Api
) -> None:
    response = _post(
        api(org["rep_a"]), f"/api/v1/customers/{theirs.pk}/assign/", {"owner": org["rep_a"].pk}
    )
    body = response.json()
    assert (response.status_code, body["code"]) == (403, "permission_denied")
    assert "holder" not in body and "status" not in body


def test_transferring_a_pooled_customer_as_a_rep_reveals_no_state(
    org: dict[str, Any], make_customer: Callable[..., Customer], api: Api
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    response = _post(
        api(org["rep_a"]),
        f"/api/v1/customers/{customer.pk}/transfer/",
        {"owner": org["rep_a"].pk},
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_releasing_another_reps_customer_is_refused_without_a_trace(
    org: dict[str, Any], theirs: Customer, api: Api
) -> None:
    before = _events(theirs)
    response = _post(
        api(org["rep_a"]), f"/api/v1/customers/{theirs.pk}/release/", {"reason": "不要了"}
    )
    assert (response.status_code, response.json()["code"]) == (403, "not_owner")
    assert _events(theirs) == before


def test_approving_an_expired_request_as_a_rep_reveals_and_changes_nothing(
    org: dict[str, Any], make_customer: Callable[..., Customer], api: Api
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(
        requires_approval=True, approval_expiry_hours=1
    )
    customer = make_customer(org["admin"], pool=org["east_pool"])
    asked = timezone.now() - timedelta(hours=2)
    request = ownership.claim(org["rep_b"], customer.pk, reason="老客户", now=asked).request
    assert request is not None
    response = _post(api(org["rep_a"]), f"/api/v1/claim-requests/{request.pk}/approve/")
    body = response.json()
    assert response.status_code in (403, 404)
    assert "state" not in body
    request.refresh_from_db()
    assert request.state == ClaimRequest.State.PENDING
