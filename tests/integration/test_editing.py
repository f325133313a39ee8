"""The edit service: the field write policy, permissions, audit and schedule of an edit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from highseas.accounts.models import AuditLog, User
from highseas.accounts.visibility import Viewer
from highseas.customers import crypto
from highseas.customers.choices import DealStage
from highseas.customers.duplicates import key_values, keys_of
from highseas.customers.models import Customer, Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.editing import EDITABLE_FIELDS, FIELD_POLICY, PROTECTED_FIELDS, edit_customer
from highseas.pools.followups import open_deal
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool, RecyclePolicy
from highseas.pools.recompute import recompute_pool_schedules

pytestmark = pytest.mark.django_db

# A valid new value for every editable field (each differs from a fresh customer's).
NEW_VALUES: dict[str, Any] = {
    "name": "新名字科技有限公司",
    "kind": "person",
    "credit_code": "91330100MA2AXXXX1X",
    "phone": "13911112222",
    "email": "new@example.com",
    "industry": "软件",
    "province": "浙江",
    "city": "杭州",
    "address": "文三路1号",
    "employees": 120,
    "revenue_band": "10m-100m",
    "source": "referral",
    "campaign": "春季展会",
    "level": "A",
    "stage": "qualified",
    "tags": ["重点"],
    "custom_fields": {"渠道": "展会"},
}


@pytest.fixture
def pool(org: dict[str, Any]) -> Pool:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=30, exempt_levels=["A"])
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    recompute_pool_schedules(pool)
    return pool


@pytest.fixture
def owned(org: dict[str, Any], pool: Pool, make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["rep_a"], owner=org["rep_a"], pool=pool)


def _state(customer: Customer) -> dict[str, Any]:
    row: dict[str, Any] = dict(Customer.objects.filter(pk=customer.pk).values().get())
    row.pop("updated_at")
    return row


def _refused(user: User, customer: Customer, changes: dict[str, Any]) -> HighSeasError:
    before, events = _state(customer), OwnershipEvent.objects.count()
    with pytest.raises(HighSeasError) as refusal:
        edit_customer(Viewer(user), customer.pk, changes)
    assert _state(customer) == before
    assert OwnershipEvent.objects.count() == events
    assert not AuditLog.objects.exists()
    return refusal.value


def test_the_policy_covers_every_business_field_and_no_ownership_field() -> None:
    assert set(NEW_VALUES) == set(EDITABLE_FIELDS)
    assert not PROTECTED_FIELDS & set(FIELD_POLICY)
    assert {name for name, rule in FIELD_POLICY.items() if rule.managers_only} == {
        "level",
        "stage",
    }


@pytest.mark.parametrize("field", sorted(PROTECTED_FIELDS))
@pytest.mark.parametrize("role", ["rep_a", "east_manager", "admin"])
def test_an_ownership_field_is_never_written_by_an_edit(
    org: dict[str, Any], owned: Customer, field: str, role: str
) -> None:
    refusal = _refused(org[role], owned, {field: None, "city": "杭州"})
    assert (refusal.code, list(refusal.facts["errors"])) == (ErrorCode.VALIDATION_ERROR, [field])


@pytest.mark.parametrize("field", sorted(EDITABLE_FIELDS))
@pytest.mark.parametrize("role", ["rep_a", "east_manager", "admin"])
def test_who_may_change_each_field(
    org: dict[str, Any], owned: Customer, field: str, role: str
) -> None:
    if FIELD_POLICY[field].managers_only and role == "rep_a":
        refusal = _refused(org[role], owned, {field: NEW_VALUES[field]})
        assert (refusal.code, refusal.facts["fields"]) == (ErrorCode.PERMISSION_DENIED, [field])
        return
    edited = edit_customer(Viewer(org[role]), owned.pk, {field: NEW_VALUES[field]})
    assert edited.changed == [field]
    owned.refresh_from_db()
    assert getattr(owned, field) == NEW_VALUES[field]
    audited = list(AuditLog.objects.values_list("actor", "action", "detail"))
    if FIELD_POLICY[field].audited:
        old = {"level": "C", "stage": "prospect"}[field]
        assert audited == [
            (
                org[role].pk,
                AuditLog.Action.CUSTOMER_EDIT,
                {"field": field, "before": old, "after": NEW_VALUES[field]},
            )
        ]
    else:
        assert audited == []


@pytest.mark.parametrize("role", ["rep_b", "rep_c", "south_manager"])
def test_someone_who_does_not_see_the_customer_gets_not_found(
    org: dict[str, Any], owned: Customer, role: str
) -> None:
    assert _refused(org[role], owned, {"city": "杭州"}).code == ErrorCode.NOT_FOUND


def test_a_rep_who_sees_a_pooled_customer_masked_may_not_edit_it(
    org: dict[str, Any], pool: Pool, make_customer: Callable[..., Customer]
) -> None:
    pooled = make_customer(org["admin"], pool=pool)
    assert _refused(org["rep_a"], pooled, {"city": "杭州"}).code == ErrorCode.NOT_OWNER


def test_a_rep_may_not_make_a_customer_exempt_by_its_level(
    org: dict[str, Any], owned: Customer
) -> None:
    assert owned.recycle_due_at is not None
    refusal = _refused(org["rep_a"], owned, {"level": "A"})
    assert refusal.code == ErrorCode.PERMISSION_DENIED


def test_a_manager_making_a_customer_exempt_unschedules_it(
    org: dict[str, Any], owned: Customer
) -> None:
    edit_customer(org["east_manager"], owned.pk, {"level": "A"})
    owned.refresh_from_db()
    assert (owned.recycle_due_at, owned.warn_at) == (None, None)
    assert run_checks().ok


def test_a_manager_demoting_from_an_exempt_level_schedules_it_again(
    org: dict[str, Any], pool: Pool, make_customer: Callable[..., Customer]
) -> None:
    exempt = make_customer(org["rep_a"], owner=org["rep_a"], pool=pool, level="A")
    assert exempt.recycle_due_at is None
    edit_customer(org["east_manager"], exempt.pk, {"level": "B"})
    exempt.refresh_from_db()
    assert exempt.owned_since is not None
    assert exempt.recycle_due_at == exempt.owned_since + timedelta(days=30)
    assert run_checks().ok


@pytest.mark.parametrize("role", ["rep_a", "east_manager", "admin"])
def test_stage_won_without_a_won_deal_is_refused(
    org: dict[str, Any], owned: Customer, role: str
) -> None:
    refusal = _refused(org[role], owned, {"stage": "won"})
    expected = ErrorCode.PERMISSION_DENIED if role == "rep_a" else ErrorCode.VALIDATION_ERROR
    assert refusal.code == expected


def test_stage_won_with_a_won_deal_may_be_set_by_a_manager(
    org: dict[str, Any], owned: Customer
) -> None:
    deal = open_deal(org["rep_a"], owned.pk, amount=Decimal("1000"))
    Deal.objects.filter(pk=deal.pk).update(stage=DealStage.WON, won_at=deal.created_at)
    edited = edit_customer(org["east_manager"], owned.pk, {"stage": "won"})
    assert edited.customer.stage == "won"
    owned.refresh_from_db()
    assert (owned.stage, owned.recycle_due_at) == ("won", None)


def test_unchanged_values_are_not_changes(org: dict[str, Any], owned: Customer) -> None:
    edited = edit_customer(
        org["rep_a"], owned.pk, {"level": owned.level, "stage": owned.stage, "city": "杭州"}
    )
    assert edited.changed == ["city"]
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tags", "重点"),
        ("tags", ["a", 1]),
        ("custom_fields", []),
        ("level", "Z"),
        ("stage", "nowhere"),
        ("email", "not an email"),
        ("name", ""),
        ("employees", -1),
        ("nickname", "x"),
    ],
)
def test_business_values_are_validated(
    org: dict[str, Any], owned: Customer, field: str, value: Any
) -> None:
    refusal = _refused(org["admin"], owned, {field: value})
    assert (refusal.code, list(refusal.facts["errors"])) == (ErrorCode.VALIDATION_ERROR, [field])


def test_an_edit_keeps_the_duplicate_keys_current(org: dict[str, Any], owned: Customer) -> None:
    changes = {"phone": "139-1111-2222", "email": "New@Example.com", "name": "新名字科技有限公司"}
    edit_customer(org["rep_a"], owned.pk, changes)
    owned.refresh_from_db()
    expected = key_values(keys_of({**changes, "kind": owned.kind}))
    assert {column: getattr(owned, column) for column in expected} == expected
    assert owned.phone_key == crypto.blind("phone", "+8613911112222")
