"""``is_possible_e164`` answers as libphonenumber's parse + ``is_possible_number`` does."""

from __future__ import annotations

import phonenumbers
from hypothesis import example, given, settings
from hypothesis import strategies as st

from highseas.engine.bounds import is_possible_e164

CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def library(e164: str) -> bool:
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(e164)))
    except phonenumbers.NumberParseException:
        return False


@settings(max_examples=2000)
@given(
    code=st.sampled_from([86, 86, 86, 852, 853, 886, 1, 44, 39, 7, 81, 65, *CODES]),
    national=st.text(alphabet="0123456789", min_size=0, max_size=17),
)
@example(code=86, national="13800138000")
@example(code=86, national="1179012345678")  # a carrier-code look-alike
@example(code=86, national="075528780808")
@example(code=39, national="0612345678")  # Italy keeps its leading zero
@example(code=86, national="")
def test_the_split_agrees_with_the_library(code: int, national: str) -> None:
    e164 = f"+{code}{national}"
    assert is_possible_e164(e164) == library(e164)


@settings(max_examples=2000)
@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=19))
def test_any_digits_after_a_plus_agree(digits: str) -> None:
    assert is_possible_e164(f"+{digits}") == library(f"+{digits}")
