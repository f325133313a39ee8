"""Input bounds (``engine.bounds``): the rules every writer checks, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.bounds import (
    MAX_DAYS,
    MAX_ID,
    activity_errors,
    contact_errors,
    customer_errors,
    is_visible,
    parse_id,
    phone_error,
    policy_errors,
)
from tests.engine.test_normalize import EXTENSIONS, PHONES

ACCEPTED = [raw for raw, expected in PHONES if expected is not None]
ACCEPTED += [raw for raw, _, _ in EXTENSIONS]


@pytest.mark.parametrize("raw", ACCEPTED)
def test_every_phone_the_normalizer_reads_is_accepted(raw: str) -> None:
    assert phone_error(raw) is None


@pytest.mark.parametrize(
    "raw", ["'; DROP TABLE x;--", "abc", "12", "+999 1234 5678", "1" * 30, "\u200b"]
)
def test_a_phone_nobody_can_dial_is_refused(raw: str) -> None:
    assert phone_error(raw) == "not a phone number"


def test_a_blank_phone_is_no_error() -> None:
    assert phone_error("") is None and phone_error("  ") is None


@pytest.mark.parametrize("name", ["\u200b", "\u200b\u200c\u200d\ufeff", " \u3000\t", "\u2060"])
def test_a_name_of_invisible_characters_is_refused(name: str) -> None:
    assert not is_visible(name)
    assert customer_errors({"name": name}) == {"name": ["visible characters"]}


@pytest.mark.parametrize("name", ["华为", "A", "\u200b华\u200b为", "ABC Co."])
def test_a_name_with_a_visible_character_is_accepted(name: str) -> None:
    assert customer_errors({"name": name}) == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", 1), ("42", 42), (str(MAX_ID), MAX_ID), ("0", None), ("-1", None), ("¹", None)],
)
def test_an_id_is_ascii_digits_within_64_bits(raw: str, expected: int | None) -> None:
    assert parse_id(raw) == expected


@given(st.text(max_size=25))
def test_parse_id_never_raises_and_never_exceeds_64_bits(raw: str) -> None:
    value = parse_id(raw)
    assert value is None or 1 <= value <= MAX_ID


def test_policy_values_are_bounded_by_unit() -> None:
    assert policy_errors({"idle_days": MAX_DAYS, "first_contact_hours": 87_600}) == {}
    assert policy_errors({"idle_days": 1_000_000_000, "daily_quota": 100_001}) == {
        "idle_days": ["at most 3650"],
        "daily_quota": ["at most 100000"],
    }
    assert policy_errors({"warn_days": -1}) == {"warn_days": ["a whole number, at least 0"]}


def test_a_nul_character_is_refused_in_any_field() -> None:
    errors = customer_errors({"tags": ["a\x00"], "custom_fields": {"k\x00": 1}, "city": "x\x00"})
    assert set(errors) == {"tags", "custom_fields", "city"}


def test_impossible_and_far_dates_are_refused() -> None:
    dates = [{"label": "成立日", "date": "2026-02-30"}]
    assert "important_dates" in contact_errors({"name": "王", "important_dates": dates})
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    assert "occurred_at" in activity_errors({"occurred_at": year_one})
    assert activity_errors({"occurred_at": datetime(2024, 2, 29, tzinfo=UTC)}) == {}
