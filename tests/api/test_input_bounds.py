"""Bad input is a ``validation_error`` (or ``payload_too_large``), never a server error, and
input has bounds: body size, JSON depth, policy values, tags, custom fields, notes, dates,
phones and names."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Activity, Customer, Deal
from highseas.pools import ownership
from highseas.pools.models import RecyclePolicy

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]

LISTS = [
    "customers",
    "teams",
    "users",
    "pools",
    "claim-requests",
    "notifications",
    "assignment-rules",
    "assignment-runs",
]


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    cache.clear()


@pytest.fixture
def mine(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(org["rep_a"], customer.pk)
    customer.refresh_from_db()
    return customer


def _refusal(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- parser depth and body size --------------------------------------------------------------


def test_a_deeply_nested_body_to_the_token_endpoint_is_a_validation_error() -> None:
    response = APIClient().post("/api/v1/auth/token/", _deep(1000), content_type="application/json")
    assert _refusal(response) == (400, "validation_error")


def test_a_deeply_nested_body_from_a_signed_in_user_is_a_validation_error(
    org: dict[str, Any], api: Api
) -> None:
    body = '{"name": "x", "custom_fields": {"a": ' + _deep(1000) + "}}"
    response = api(org["admin"]).post("/api/v1/customers/", body, content_type="application/json")
    assert _refusal(response) == (400, "validation_error")
    assert not Customer.objects.exists()


def test_a_body_of_moderate_depth_is_parsed(org: dict[str, Any], api: Api) -> None:
    response = api(org["admin"]).post(
        "/api/v1/customers/",
        {
            "name": "嵌套有限公司",
            "phone": "13800138000",
            "pool": org["east_pool"].pk,
            "custom_fields": {"a": {"b": {"c": 1}}},
        },
        format="json",
    )
    assert response.status_code == 201, response.content


def test_a_twenty_megabyte_body_is_refused_before_it_is_parsed() -> None:
    body = '{"username": "' + "x" * (20 * 1024 * 1024) + '"}'
    response = APIClient().post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["limit_bytes"] > 0


# --- pagination cursors and numeric parameters -------------------------------------------------


@pytest.mark.parametrize("resource", LISTS)
@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        base64.b64encode(b"p=abc").decode(),
        base64.b64encode(b"p=99999999999999999999999").decode(),
        base64.b64encode(b"o=-5&p=1").decode(),
    ],
)
def test_a_malformed_cursor_is_a_validation_error(
    org: dict[str, Any], api: Api, resource: str, cursor: str
) -> None:
    response = api(org["admin"]).get(f"/api/v1/{resource}/", {"cursor": cursor})
    assert _refusal(response) == (400, "validation_error")
    assert "cursor" in response.json()["errors"]


def test_a_cursor_of_the_api_still_pages(
    org: dict[str, Any], api: Api, make_customer: Callable[..., Customer]
) -> None:
    for _ in range(3):
        make_customer(org["admin"], pool=org["east_pool"])
    client = api(org["admin"])
    first = client.get("/api/v1/customers/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    assert len(first["results"]) == 2 and len(second["results"]) == 1


@pytest.mark.parametrize("name", ["owner", "pool"])
@pytest.mark.parametrize("value", ["99999999999999999999999", "¹", "-1", "0"])
def test_an_out_of_range_filter_is_a_validation_error(
    org: dict[str, Any], api: Api, name: str, value: str
) -> None:
    response = api(org["admin"]).get("/api/v1/customers/", {name: value})
    assert _refusal(response) == (400, "validation_error")
    assert name in response.json()["errors"]


@pytest.mark.parametrize("name", ["cursor", "page_size"])
@pytest.mark.parametrize("value", ["99999999999999999999999", "¹", "٣"])
def test_an_out_of_range_search_number_is_a_validation_error(
    org: dict[str, Any], api: Api, name: str, value: str
) -> None:
    response = api(org["admin"]).get("/api/v1/search/", {"q": "测试客户", name: value})
    assert _refusal(response) == (400, "validation_error")


@pytest.mark.parametrize(
    "path",
    [
        "customers/{id}/",
        "customers/{id}/activities/",
        "customers/{id}/timeline/",
        "assignment-rules/{id}/",
        "pools/{id}/",
        "users/{id}/",
        "teams/{id}/",
        "notifications/{id}/",
        "claim-requests/{id}/",
    ],
)
@pytest.mark.parametrize("value", ["99999999999999999999999", "¹", "%C2%B2"])
def test_an_out_of_range_id_in_the_path_is_not_found(
    org: dict[str, Any], api: Api, path: str, value: str
) -> None:
    response = api(org["admin"]).get("/api/v1/" + path.format(id=value))
    assert _refusal(response) == (404, "not_found")


def test_an_out_of_range_id_in_an_edit_path_is_not_found(org: dict[str, Any], api: Api) -> None:
    response = api(org["admin"]).patch("/api/v1/customers/¹/", {"name": "x"}, format="json")
    assert _refusal(response) == (404, "not_found")


# --- deals ----------------------------------------------------------------------------------


def test_a_new_deal_opened_as_lost_keeps_its_lost_reason(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/deals/",
        {"name": "合同", "amount": "100", "stage": "lost", "lost_reason": "价格太高"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert (response.json()["stage"], response.json()["lost_reason"]) == ("lost", "价格太高")


def test_a_new_deal_opened_as_won_makes_the_customer_won(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/deals/",
        {"name": "合同", "amount": "100", "stage": "won"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["won_at"] is not None
    mine.refresh_from_db()
    assert mine.stage == "won"


def test_a_lost_reason_on_a_new_open_deal_is_a_validation_error(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/deals/",
        {"name": "合同", "amount": "100", "lost_reason": "价格太高"},
        format="json",
    )
    assert _refusal(response) == (400, "validation_error")
    assert "lost_reason" in response.json()["errors"]
    assert not Deal.objects.exists()


def test_a_huge_deal_amount_is_a_validation_error(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/deals/", {"amount": "1e30"}, format="json"
    )
    assert _refusal(response) == (400, "validation_error")


# --- policy values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "field", "value"),
    [
        ("recycle_policy", "idle_days", 1_000_000_000),
        ("recycle_policy", "no_deal_days", 3651),
        ("recycle_policy", "warn_days", 100_000),
        ("recycle_policy", "first_contact_hours", 87_601),
        ("claim_policy", "daily_quota", 100_001),
        ("claim_policy", "holding_cap", 2**40),
        ("claim_policy", "reclaim_cooldown_days", 3651),
        ("claim_policy", "approval_expiry_hours", 87_601),
        ("claim_policy", "max_freeze_days", 1_000_000_000),
    ],
)
def test_an_unbounded_policy_value_is_refused_naming_the_field(
    org: dict[str, Any], api: Api, policy: str, field: str, value: int
) -> None:
    pool = org["east_pool"]
    response = api(org["admin"]).patch(
        f"/api/v1/pools/{pool.pk}/", {policy: {field: value}}, format="json"
    )
    assert _refusal(response) == (400, "validation_error")
    assert field in response.json()["errors"][policy]


def test_an_unbounded_level_override_is_refused(org: dict[str, Any], api: Api) -> None:
    pool = org["east_pool"]
    response = api(org["admin"]).patch(
        f"/api/v1/pools/{pool.pk}/",
        {"recycle_policy": {"level_overrides": {"A": {"idle_days": 1_000_000_000}}}},
        format="json",
    )
    assert _refusal(response) == (400, "validation_error")
    assert not RecyclePolicy.objects.get(pool=pool).level_overrides


def test_claims_keep_working_at_the_largest_allowed_idle_limit(
    org: dict[str, Any], api: Api, make_customer: Callable[..., Customer]
) -> None:
    pool = org["east_pool"]
    saved = api(org["admin"]).patch(
        f"/api/v1/pools/{pool.pk}/",
        {
            "recycle_policy": {"idle_days": 3650, "no_deal_days": 3650, "warn_days": 3650},
            "claim_policy": {"max_freeze_days": 3650, "reclaim_cooldown_days": 3650},
        },
        format="json",
    )
    assert saved.status_code == 200, saved.content
    customer = make_customer(org["admin"], pool=pool)
    claimed = api(org["rep_a"]).post(f"/api/v1/customers/{customer.pk}/claim/")
    assert claimed.status_code == 200, claimed.content
    frozen = api(org["rep_a"]).post(
        f"/api/v1/customers/{customer.pk}/freeze/",
        {"until": (timezone.now() + timedelta(days=3000)).isoformat(), "reason": "长期项目"},
        format="json",
    )
    assert frozen.status_code == 200, frozen.content


def test_an_unbounded_policy_from_the_domain_is_refused(org: dict[str, Any]) -> None:
    from highseas.accounts.visibility import Viewer
    from highseas.engine.errors import HighSeasError
    from highseas.pools.policy_edits import save_policies

    with pytest.raises(HighSeasError) as refused:
        save_policies(
            Viewer(org["admin"]),
            org["east_pool"],
            claim_policy=None,
            recycle_policy={"idle_days": 1_000_000_000},
        )
    assert refused.value.facts["errors"] == {"recycle_policy": {"idle_days": ["at most 3650"]}}
    assert RecyclePolicy.objects.get(pool=org["east_pool"]).idle_days != 1_000_000_000


# --- customer fields -------------------------------------------------------------------------


def _create(api: Api, org: dict[str, Any], **fields: Any) -> Any:
    body = {
        "name": "边界测试有限公司",
        "phone": "13912345678",
        "pool": org["east_pool"].pk,
        **fields,
    }
    return api(org["admin"]).post("/api/v1/customers/", body, format="json")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tags", ["x" * 1000]),
        ("tags", [f"t{i}" for i in range(10_000)]),
        ("custom_fields", {f"k{i}": i for i in range(1000)}),
        ("custom_fields", {"k" * 1000: 1}),
        ("custom_fields", {"a": {"b": {"c": {"d": {"e": 1}}}}}),
        ("custom_fields", {"a": "x" * 100_000}),
        ("phone", "'; DROP TABLE x;--"),
        ("name", "\u200b\u200b\u200b"),
        ("name", "\u200b \ufeff\u2060"),
        ("email", "not an address"),
    ],
)
def test_a_customer_field_out_of_bounds_is_refused_by_name(
    org: dict[str, Any], api: Api, field: str, value: Any
) -> None:
    response = _create(api, org, **{field: value})
    assert _refusal(response) == (400, "validation_error")
    assert field in response.json()["errors"]
    assert not Customer.objects.exists()


def test_an_edit_out_of_bounds_is_refused_by_name(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).patch(
        f"/api/v1/customers/{mine.pk}/", {"phone": "'; DROP TABLE x;--"}, format="json"
    )
    assert _refusal(response) == (400, "validation_error")
    assert "phone" in response.json()["errors"]
    mine.refresh_from_db()
    assert mine.phone != "'; DROP TABLE x;--"


def test_tags_and_custom_fields_within_bounds_are_stored(org: dict[str, Any], api: Api) -> None:
    response = _create(
        api,
        org,
        tags=["重点", "华东"],
        custom_fields={"渠道": "展会", "规模": {"员工": 120}},
        notes="需要报价",
    )
    assert response.status_code == 201, response.content
    assert response.json()["tags"] == ["重点", "华东"]


# --- follow-ups and contacts ------------------------------------------------------------------


def test_an_activity_of_year_one_is_refused(org: dict[str, Any], mine: Customer, api: Api) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/activities/",
        {"kind": "call", "occurred_at": "0001-01-01T00:00:00Z"},
        format="json",
    )
    assert _refusal(response) == (400, "validation_error")
    assert "occurred_at" in response.json()["errors"]
    assert not Activity.objects.exists()


def test_an_activity_note_of_a_megabyte_is_refused(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/activities/",
        {"kind": "call", "note": "x" * 1_000_000},
        format="json",
    )
    assert _refusal(response) == (400, "validation_error")
    assert "note" in response.json()["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("important_dates", [{"label": "成立日", "date": "2026-02-30"}]),
        ("birthday", "2026-02-30"),
        ("birthday", "0001-01-01"),
        ("phones", ["'; DROP TABLE x;--"]),
        ("name", "\u200b"),
    ],
)
def test_a_contact_field_out_of_bounds_is_refused_by_name(
    org: dict[str, Any], mine: Customer, api: Api, field: str, value: Any
) -> None:
    body = {"name": "王经理", "phones": ["13800138000"], field: value}
    response = api(org["rep_a"]).post(f"/api/v1/customers/{mine.pk}/contacts/", body, format="json")
    assert _refusal(response) == (400, "validation_error")
    assert field in response.json()["errors"]


def test_a_valid_contact_is_stored(org: dict[str, Any], mine: Customer, api: Api) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/contacts/",
        {
            "name": "王经理",
            "phones": ["+86 138-0013-8000", "021-6234 5678 转 801"],
            "important_dates": [{"label": "成立日", "date": "2024-02-29"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content


# --- NUL characters (PostgreSQL refuses them in text and JSON) --------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "空\x00字符有限公司"),
        ("tags", ["a\x00b"]),
        ("custom_fields", {"k": "a\x00b"}),
        ("custom_fields", {"a\x00b": 1}),
    ],
)
def test_a_nul_character_in_a_customer_field_is_refused(
    org: dict[str, Any], api: Api, field: str, value: Any
) -> None:
    response = _create(api, org, **{field: value})
    assert _refusal(response) == (400, "validation_error")
    assert not Customer.objects.exists()


@pytest.mark.parametrize("text", ["华为\x00科技", "a\x00@example.com", "138\x0000138000"])
def test_a_nul_character_in_a_search_is_answered(org: dict[str, Any], api: Api, text: str) -> None:
    response = api(org["rep_a"]).get("/api/v1/search/", {"q": text})
    assert response.status_code in (200, 400)


def test_a_nul_character_in_a_list_filter_is_answered(org: dict[str, Any], api: Api) -> None:
    response = api(org["admin"]).get("/api/v1/customers/", {"q": "华\x00为", "city": "a\x00"})
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("resource", ["customers", "activities"])
@pytest.mark.parametrize(
    ("name", "value"), [("due", "217936355"), ("owner", "¹"), ("pool", "9" * 30)]
)
def test_an_out_of_range_export_filter_is_a_validation_error(
    org: dict[str, Any], api: Api, resource: str, name: str, value: str
) -> None:
    response = api(org["admin"]).get(f"/api/v1/exports/{resource}/", {name: value, "format": "csv"})
    assert _refusal(response) == (400, "validation_error")
    assert name in response.json()["errors"]


@pytest.mark.parametrize("value", [10**30, 2**63, -(2**63) - 1])
def test_an_out_of_range_id_in_a_body_is_a_validation_error(
    org: dict[str, Any], mine: Customer, api: Api, value: int
) -> None:
    client = api(org["admin"])
    assigned = client.post(
        f"/api/v1/customers/{mine.pk}/transfer/", {"owner": value}, format="json"
    )
    assert _refusal(assigned) == (400, "validation_error")
    assert "owner" in assigned.json()["errors"]
    created = _create(api, org, pool=value)
    assert _refusal(created) == (400, "validation_error")
    assert "pool" in created.json()["errors"]


# --- the web console reads the same numbers ---------------------------------------------------


@pytest.mark.parametrize("name", ["owner", "pool", "after", "before"])
@pytest.mark.parametrize("value", ["¹", "9" * 30])
def test_an_out_of_range_console_filter_is_ignored(
    org: dict[str, Any], name: str, value: str
) -> None:
    client = Client()
    client.force_login(org["east_manager"])
    response = client.get("/console/customers/", {name: value})
    assert response.status_code == 200


@pytest.mark.parametrize("since", ["0001-01-01", "0001-01-01T00:00:00", "9999-12-31T23:59:59"])
def test_an_audit_log_filter_far_in_time_is_a_validation_error(
    org: dict[str, Any], api: Api, since: str
) -> None:
    response = api(org["admin"]).get("/api/v1/audit-log/", {"since": since})
    assert _refusal(response) == (400, "validation_error")
    assert "since" in response.json()["errors"]


def test_a_freeze_until_a_far_year_is_refused(
    org: dict[str, Any], mine: Customer, api: Api
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{mine.pk}/freeze/",
        {"until": "9999-12-31T00:00:00Z", "reason": "永久"},
        format="json",
    )
    assert _refusal(response) == (400, "validation_error")
    assert "until" in response.json()["errors"]
    mine.refresh_from_db()
    assert mine.frozen_until is None
