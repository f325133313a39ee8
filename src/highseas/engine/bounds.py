"""Input bounds: what a value may be before HighSeas stores it, one rule in one place.

Every writer of customers, contacts, follow-ups, deals and policies checks its input here —
the API, the web pages, registration, edits and imports alike — and refuses with
``validation_error`` naming each field (``require_valid``). The limits:

1. ids (paths, filters, cursors): 1 to ``MAX_ID`` (a signed 64-bit integer), ASCII digits;
2. policies: days ≤ ``MAX_DAYS`` (ten years), hours ≤ ``MAX_HOURS`` (ten years), counts ≤
   ``MAX_COUNT``; never negative;
3. names contain at least one visible character (zero-width and blank characters are not);
4. phones: what ``engine.normalize`` reads (several ways of writing Chinese mobiles,
   landlines, 400/800 numbers and international numbers), confirmed possible by the
   ``phonenumbers`` library; anything else (``'; DROP TABLE x;--``) is refused;
5. tags: at most ``MAX_TAGS``, each 1–``MAX_TAG_LENGTH`` characters;
6. custom fields: at most ``MAX_CUSTOM_FIELDS`` keys of ≤ ``MAX_CUSTOM_KEY_LENGTH``
   characters, nested at most ``MAX_CUSTOM_DEPTH`` objects/lists deep, ≤
   ``MAX_CUSTOM_BYTES`` as JSON;
7. free text (notes, follow-up notes): at most ``MAX_NOTE_LENGTH`` characters;
8. dates and times: real calendar dates, years ``MIN_YEAR``–``MAX_YEAR``.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import phonenumbers

from highseas.engine.errors import ErrorCode, HighSeasError, gettext_noop
from highseas.engine.normalize import parse_phone

Errors = dict[str, list[str]]

MAX_ID = 2**63 - 1
MAX_ID_DIGITS = 19
MAX_DAYS = 3650
MAX_HOURS = 87_600
MAX_COUNT = 100_000
MAX_TAGS = 50
MAX_TAG_LENGTH = 50
MAX_CUSTOM_FIELDS = 50
MAX_CUSTOM_KEY_LENGTH = 100
MAX_CUSTOM_DEPTH = 3
MAX_CUSTOM_BYTES = 10_000
MAX_NOTE_LENGTH = 10_000
MIN_YEAR = 1900
MAX_YEAR = 2100

# Policy fields by unit; a per-level override uses the same unit as its field.
DAY_FIELDS = frozenset(
    {
        "idle_days",
        "no_deal_days",
        "warn_days",
        "reclaim_cooldown_days",
        "max_freeze_days",
        "won_repurchase_days",
    }
)
HOUR_FIELDS = frozenset({"first_contact_hours", "approval_expiry_hours"})
COUNT_FIELDS = frozenset(
    {"daily_quota", "weekly_quota", "holding_cap", "max_frozen", "daily_view_limit"}
)
NAME_FIELDS = ("name",)
NOTE_FIELDS = ("notes", "note")
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me", "Cn", "Co", "Cs"})


def parse_number(raw: object, *, limit: int = MAX_ID) -> int | None:
    """A whole number 0…``limit`` from ASCII digits, or ``None`` (``"¹"``, ``"-1"``, 10²⁰)."""
    text = str(raw)
    if not (0 < len(text) <= MAX_ID_DIGITS and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= limit else None


def parse_id(raw: object) -> int | None:
    """An id from text (``"42"``), or ``None`` when it is not one (``"0"``, ``"¹"``, 10²⁰)."""
    value = parse_number(raw)
    return value if value else None


def limit_of(field: str) -> int | None:
    """The largest value a policy field (or per-level override) may take."""
    if field in DAY_FIELDS:
        return MAX_DAYS
    if field in HOUR_FIELDS:
        return MAX_HOURS
    if field in COUNT_FIELDS:
        return MAX_COUNT
    return None


def policy_value_error(field: str, value: object) -> str | None:
    limit = limit_of(field)
    if limit is None or value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return "a whole number, at least 0"
    return f"at most {limit}" if value > limit else None


def policy_errors(values: Mapping[str, Any]) -> Errors:
    """Errors of one policy's values (claim or recycle), by field."""
    errors: Errors = {}
    for field, value in values.items():
        if message := policy_value_error(field, value):
            errors[field] = [message]
    return errors


def is_visible(text: str) -> bool:
    """Whether ``text`` has a character a reader can see."""
    return any(unicodedata.category(char) not in _INVISIBLE for char in text)


def phone_error(raw: str) -> str | None:
    if not raw.strip():
        return None
    parsed = parse_phone(raw)
    if parsed is None:
        return "not a phone number"
    return None if is_possible_e164(parsed.e164) else "not a phone number"


def is_possible_e164(e164: str) -> bool:
    """Whether a number in E.164 has a possible length for its country (libphonenumber's
    ``is_possible_number``). The country code is split off as the library splits it (the
    codes are prefix-free, one to three digits), which spares parsing the text again — the
    costliest step of an import's row check. A number that is not possible as it stands, or
    whose national part has a leading zero, goes through the library's parser, which may strip
    a national or carrier prefix first (``tests/engine/test_phone_possible.py`` holds the two
    to the same answers)."""
    digits = e164.removeprefix("+")
    if digits.isdigit() and not digits.startswith("0"):
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                national = digits[size:]
                if national and not national.startswith("0"):
                    number = phonenumbers.PhoneNumber(
                        country_code=code, national_number=int(national)
                    )
                    if phonenumbers.is_possible_number(number):
                        return True
                break  # not possible as it stands: the library may strip a carrier code
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def tags_error(tags: object) -> str | None:
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return "a list of texts"
    if len(tags) > MAX_TAGS:
        return f"at most {MAX_TAGS} tags"
    if not all(0 < len(t) <= MAX_TAG_LENGTH and is_visible(t) for t in tags):
        return f"each tag 1 to {MAX_TAG_LENGTH} visible characters"
    return None


def custom_fields_error(values: object) -> str | None:
    if not isinstance(values, dict):
        return "an object"
    if len(values) > MAX_CUSTOM_FIELDS:
        return f"at most {MAX_CUSTOM_FIELDS} fields"
    if not all(0 < len(str(key)) <= MAX_CUSTOM_KEY_LENGTH for key in values):
        return f"names of 1 to {MAX_CUSTOM_KEY_LENGTH} characters"
    if _depth(values) > MAX_CUSTOM_DEPTH:
        return f"nested at most {MAX_CUSTOM_DEPTH} levels"
    if len(json.dumps(values, ensure_ascii=False, default=str)) > MAX_CUSTOM_BYTES:
        return f"at most {MAX_CUSTOM_BYTES} characters in all"
    return None


def moment_error(value: object) -> str | None:
    """A date or time out of ``MIN_YEAR``–``MAX_YEAR``, or text that is no calendar date."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return "not a date (YYYY-MM-DD)"
    if isinstance(value, date | datetime) and not MIN_YEAR <= value.year <= MAX_YEAR:
        return f"a year from {MIN_YEAR} to {MAX_YEAR}"
    return None


def important_dates_error(dates: object) -> str | None:
    if not isinstance(dates, list) or not all(
        isinstance(d, dict) and set(d) == {"label", "date"} for d in dates
    ):
        return 'a list of {"label": …, "date": "YYYY-MM-DD"}'
    if len(dates) > MAX_TAGS:
        return f"at most {MAX_TAGS} dates"
    for entry in dates:
        if not isinstance(entry["label"], str) or len(entry["label"]) > MAX_TAG_LENGTH:
            return f"labels of at most {MAX_TAG_LENGTH} characters"
        if not isinstance(entry["date"], str) or moment_error(entry["date"]):
            return f"real dates (YYYY-MM-DD) from {MIN_YEAR} to {MAX_YEAR}"
    return None


def has_nul(value: object) -> bool:
    """Whether a NUL character is in any text or key of ``value`` (no database stores one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


def _text_errors(fields: Mapping[str, Any], errors: Errors) -> None:
    for name, value in fields.items():
        if has_nul(value):
            errors[name] = ["no NUL characters"]
    for name in NAME_FIELDS:
        if name in fields and not is_visible(str(fields[name] or "")):
            errors[name] = ["visible characters"]
    for name in NOTE_FIELDS:
        if len(str(fields.get(name) or "")) > MAX_NOTE_LENGTH:
            errors[name] = [f"at most {MAX_NOTE_LENGTH} characters"]


def _moment_errors(fields: Mapping[str, Any], names: Iterable[str], errors: Errors) -> None:
    for name in names:
        if fields.get(name) is not None and (error := moment_error(fields[name])):
            errors[name] = [error]


def customer_errors(fields: Mapping[str, Any]) -> Errors:
    """Errors of a customer's business fields (those given: a create or an edit)."""
    errors: Errors = {}
    _text_errors(fields, errors)
    if (error := phone_error(str(fields.get("phone") or ""))) is not None:
        errors["phone"] = [error]
    if "tags" in fields and (error := tags_error(fields["tags"] or [])):
        errors["tags"] = [error]
    if "custom_fields" in fields and (error := custom_fields_error(fields["custom_fields"] or {})):
        errors["custom_fields"] = [error]
    return errors


def contact_errors(fields: Mapping[str, Any]) -> Errors:
    errors: Errors = {}
    _text_errors(fields, errors)
    phones = fields.get("phones") or []
    if not isinstance(phones, list) or any(
        not isinstance(p, str) or phone_error(p) for p in phones
    ):
        errors["phones"] = ["a list of phone numbers"]
    elif len(phones) > MAX_TAGS:
        errors["phones"] = [f"at most {MAX_TAGS} numbers"]
    if "important_dates" in fields and (
        error := important_dates_error(fields["important_dates"] or [])
    ):
        errors["important_dates"] = [error]
    _moment_errors(fields, ["birthday"], errors)
    return errors


def activity_errors(fields: Mapping[str, Any]) -> Errors:
    errors: Errors = {}
    _text_errors(fields, errors)
    _moment_errors(fields, ["occurred_at", "next_contact_at"], errors)
    return errors


def deal_errors(fields: Mapping[str, Any]) -> Errors:
    errors: Errors = {}
    _moment_errors(fields, ["expected_close", "contract_end"], errors)
    return errors


def require_valid(errors: Errors | Mapping[str, Any]) -> None:
    """Refuse with ``validation_error`` naming every field in ``errors``, if any."""
    if errors:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            gettext_noop("Some fields are not valid."),
            errors=dict(errors),
        )
