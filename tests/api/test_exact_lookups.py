"""Exact-identifier lookups (a full phone, e-mail or credit code, in public search and in the
duplicate check) are limited per user, audited without the value in clear, and admins are
told once when someone reaches the limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from highseas.accounts.models import AuditLog, User
from highseas.customers.models import Customer
from highseas.notify.models import Notification

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]
LIMIT = 30  # the default of HIGHSEAS_EXACT_LOOKUPS_PER_HOUR
TARGET = "15212342730"  # shown masked as 152****2730


@pytest.fixture
def target(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["admin"], owner=org["rep_c"], phone=TARGET)


def _guesses() -> list[str]:
    """The ~10,000 candidates for 152****2730, the right one last."""
    return [f"152{middle:04d}2730" for middle in range(10_000) if middle != 1234] + [TARGET]


def _search(client: APIClient, text: str) -> Any:
    return client.get("/api/v1/search/", {"q": text})


def _check(client: APIClient, phone: str) -> Any:
    return client.post("/api/v1/customers/check-duplicates/", {"phone": phone}, format="json")


def _lookup_rows(user: User) -> int:
    return AuditLog.objects.filter(actor=user, action=AuditLog.Action.EXACT_LOOKUP).count()


@pytest.mark.parametrize("probe", [_search, _check])
def test_guessing_the_masked_digits_of_a_phone_is_stopped_at_the_limit(
    org: dict[str, Any], target: Customer, api: Api, probe: Callable[[APIClient, str], Any]
) -> None:
    client = api(org["rep_a"])
    answers = []
    for guess in _guesses():
        response = probe(client, guess)
        answers.append(response.status_code)
        if response.status_code == 429:
            break
    assert len(answers) == LIMIT + 1  # stopped after 30 of ~10,000 tries
    assert answers[:LIMIT] == [200] * LIMIT
    body = response.json()
    assert body["code"] == "lookup_limit_reached"
    assert body["limit"] == LIMIT
    assert body["resets_at"]
    assert 0 < int(response["Retry-After"]) <= 3600
    assert probe(client, TARGET).status_code == 429  # the right guess is refused too
    admins_told = Notification.objects.filter(recipient=org["admin"], kind="lookup_limit")
    assert admins_told.count() == 1
    assert "rep_a".upper() in admins_told.get().body


def test_each_lookup_is_audited_with_its_kind_and_a_masked_value(
    org: dict[str, Any], target: Customer, api: Api
) -> None:
    _search(api(org["rep_a"]), TARGET)
    row = AuditLog.objects.get(actor=org["rep_a"], action=AuditLog.Action.EXACT_LOOKUP)
    assert row.detail["kinds"] == ["phone"]
    assert row.detail["masked"] == ["152****2730"]
    assert TARGET not in str(row.detail) and "1234" not in str(row.detail)


def test_reaching_the_limit_is_audited_and_admins_are_told_once(
    org: dict[str, Any], target: Customer, api: Api
) -> None:
    client = api(org["rep_a"])
    for middle in range(LIMIT + 5):
        _search(client, f"152{middle:04d}2730")
    limit_rows = AuditLog.objects.filter(actor=org["rep_a"], action=AuditLog.Action.LOOKUP_LIMIT)
    assert limit_rows.count() == 1
    assert _lookup_rows(org["rep_a"]) == LIMIT
    assert Notification.objects.filter(kind="lookup_limit", recipient=org["admin"]).count() == 1
    assert not Notification.objects.filter(kind="lookup_limit", recipient=org["rep_a"]).exists()


def test_the_limit_is_per_user(org: dict[str, Any], target: Customer, api: Api) -> None:
    for middle in range(LIMIT + 1):
        _search(api(org["rep_a"]), f"152{middle:04d}2730")
    assert _search(api(org["rep_b"]), TARGET).status_code == 200


def test_search_and_the_duplicate_check_share_one_count(
    org: dict[str, Any], target: Customer, api: Api
) -> None:
    client = api(org["rep_a"])
    for middle in range(LIMIT // 2):
        _search(client, f"152{middle:04d}2730")
        _check(client, f"153{middle:04d}2730")
    assert _search(client, TARGET).status_code == 429


def test_name_searches_and_name_checks_are_not_counted(
    org: dict[str, Any], target: Customer, api: Api
) -> None:
    client = api(org["rep_a"])
    for _ in range(LIMIT + 5):
        assert _search(client, "测试客户").status_code == 200
        assert (
            client.post(
                "/api/v1/customers/check-duplicates/", {"name": "测试客户"}, format="json"
            ).status_code
            == 200
        )
    assert _lookup_rows(org["rep_a"]) == 0


@override_settings(HIGHSEAS_EXACT_LOOKUPS_PER_HOUR=3)
def test_the_limit_is_configurable(org: dict[str, Any], target: Customer, api: Api) -> None:
    client = api(org["rep_a"])
    answers = [_search(client, f"buyer{n}@example.com").status_code for n in range(4)]
    assert answers == [200, 200, 200, 429]


def test_an_exact_lookup_still_finds_the_customer(
    org: dict[str, Any], target: Customer, api: Api
) -> None:
    found = _search(api(org["rep_a"]), "152-1234-2730").json()["results"]
    assert [row["id"] for row in found] == [target.pk]
    checked = _check(api(org["rep_a"]), "+86 152 1234 2730").json()
    assert checked["decision"] == "block"
    assert [m["id"] for m in checked["matches"]] == [target.pk]
