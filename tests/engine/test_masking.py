from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.masking import mask_email, mask_phone, mask_value


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800138000", "138****8000"),
        ("+8613800138000", "+86****8000"),
        ("010-62345678", "010****5678"),
        ("1234", "****"),
        ("12345", "1**45"),
    ],
)
def test_phone_keeps_only_its_ends(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [("zhang.wei@example.com", "z***@example.com"), ("a@b.cn", "a***@b.cn"), ("nonsense", "***")],
)
def test_email_keeps_first_letter_and_domain(email: str, masked: str) -> None:
    assert mask_email(email) == masked


def test_empty_values_stay_empty() -> None:
    assert mask_value("phone", "") == ""
    assert mask_value("email", None) is None


@given(st.text(alphabet="0123456789", min_size=8, max_size=15))
def test_a_masked_long_number_shows_seven_digits_at_most(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked == phone[:3] + "****" + phone[-4:]
    assert sum(ch.isdigit() for ch in masked) == 7
