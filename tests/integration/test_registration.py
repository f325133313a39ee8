"""Who may receive a new customer: one decision for the API and the web."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake.registration import register_customer
from highseas.pools.models import OwnershipEvent, Pool

pytestmark = pytest.mark.django_db


def _register(user: User, *, owner: User | None = None, pool: Pool | None = None) -> Customer:
    return register_customer(
        Viewer(user), {"name": "新登记客户有限公司"}, owner=owner, pool=pool
    ).customer


def _refused(user: User, **kwargs: Any) -> HighSeasError:
    with pytest.raises(HighSeasError) as refusal:
        _register(user, **kwargs)
    assert not Customer.objects.exists()
    assert not OwnershipEvent.objects.exists()
    return refusal.value


def _deactivated(user: User) -> User:
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.refresh_from_db()
    return user


def test_a_rep_who_names_nobody_owns_what_they_register(org: dict[str, Any]) -> None:
    customer = _register(org["rep_a"], pool=org["east_pool"])
    assert (customer.owner, customer.pool, customer.status) == (
        org["rep_a"],
        org["east_pool"],
        "owned",
    )


def test_a_rep_may_name_themselves(org: dict[str, Any]) -> None:
    assert _register(org["rep_a"], owner=org["rep_a"]).owner == org["rep_a"]


def test_a_rep_cannot_register_for_a_teammate(org: dict[str, Any]) -> None:
    assert _refused(org["rep_a"], owner=org["rep_b"]).code == ErrorCode.PERMISSION_DENIED


@pytest.mark.parametrize("role", ["rep_a", "east_manager"])
def test_the_pool_must_be_one_the_viewer_belongs_to(org: dict[str, Any], role: str) -> None:
    refusal = _refused(org[role], pool=org["south_pool"])
    assert refusal.code == ErrorCode.NOT_POOL_MEMBER


def test_a_manager_who_names_nobody_leaves_the_customer_pooled(org: dict[str, Any]) -> None:
    customer = _register(org["east_manager"], pool=org["east_pool"])
    assert (customer.owner, customer.status) == (None, "pooled")


def test_a_manager_names_a_rep_of_their_subtree(org: dict[str, Any]) -> None:
    assert _register(org["east_manager"], owner=org["rep_b"]).owner == org["rep_b"]


def test_a_manager_cannot_name_a_rep_outside_their_subtree(org: dict[str, Any]) -> None:
    assert _refused(org["east_manager"], owner=org["rep_c"]).code == ErrorCode.PERMISSION_DENIED


def test_a_manager_cannot_name_a_deactivated_rep(org: dict[str, Any]) -> None:
    refusal = _refused(org["east_manager"], owner=_deactivated(org["rep_b"]))
    assert (refusal.code, refusal.facts["errors"]) == (
        ErrorCode.VALIDATION_ERROR,
        {"owner": ["inactive"]},
    )


def test_an_admin_names_any_active_user(org: dict[str, Any]) -> None:
    assert _register(org["admin"], owner=org["rep_c"]).owner == org["rep_c"]


def test_an_admin_cannot_name_a_deactivated_user(org: dict[str, Any]) -> None:
    assert _refused(org["admin"], owner=_deactivated(org["rep_c"])).code == (
        ErrorCode.VALIDATION_ERROR
    )
