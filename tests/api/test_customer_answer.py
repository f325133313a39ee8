"""The ownership answers' customer (``api.serializers.customer_answer``) is the customer
serializer's shape (SPEC §10), field by field, for the owner and for masked and unmasked
viewers; the claim answers it from the row its own statement returned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.api.serializers.customer_answer import customer_answer
from highseas.api.serializers.customers import CustomerSerializer
from highseas.customers.models import Customer
from highseas.pools.models import ClaimPolicy

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


def full(viewer_user: User, customer_id: int) -> dict[str, Any]:
    """What the serializer answers for a fresh read of the customer."""
    customer = Customer.objects.select_related("owner", "pool").get(pk=customer_id)
    viewer = Viewer(viewer_user)
    return dict(CustomerSerializer(customer, context={"viewer": viewer}).data)


@pytest.fixture
def rich(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=50)
    customer = make_customer(
        org["admin"], pool=org["east_pool"], phone="13912345678", email="buyer@example.com"
    )
    Customer.objects.filter(pk=customer.pk).update(
        tags=["展会", "VIP"],
        custom_fields={"来源活动": "春季展"},
        employees=120,
        last_activity_at=timezone.now() - timedelta(days=3),
    )
    return customer


@pytest.mark.parametrize("role_masks", [{}, {"rep": ["phone"]}])
def test_the_claim_answer_is_the_serializer_field_by_field(
    org: dict[str, Any], rich: Customer, api: Api, role_masks: dict[str, list[str]]
) -> None:
    with override_settings(HIGHSEAS_ROLE_MASKED_FIELDS=role_masks):
        response = api(org["rep_a"]).post(f"/api/v1/customers/{rich.pk}/claim/", format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        expected = full(org["rep_a"], rich.pk)
    assert list(body) == list(expected)
    for name, value in expected.items():
        assert body[name] == value, name
    assert body["owner"] == org["rep_a"].pk and body["status"] == "owned"
    assert body["phone"] == ("13912345678" if not role_masks else "139****5678")


@pytest.mark.parametrize(
    "who", ["rep_a", "rep_b", "rep_c", "east_manager", "south_manager", "admin"]
)
def test_the_fast_answer_matches_for_owner_masked_and_unmasked_viewers(
    org: dict[str, Any], rich: Customer, api: Api, who: str
) -> None:
    """rep_a owns it; rep_b and rep_c see it masked; the managers and the admin by their
    scope. Both are rendered from the same instance and from the claimed row."""
    api(org["rep_a"]).post(f"/api/v1/customers/{rich.pk}/claim/", format="json")
    viewer_user = org[who]
    customer = Customer.objects.select_related("owner", "pool").get(pk=rich.pk)
    fast = customer_answer(Viewer(viewer_user), customer)
    expected = full(viewer_user, rich.pk)
    assert list(fast) == list(expected)
    for name, value in expected.items():
        assert fast[name] == value, (who, name)
    masked = expected["masked_fields"]
    assert (who in ("rep_a", "admin", "east_manager")) == (masked == []), (who, masked)
