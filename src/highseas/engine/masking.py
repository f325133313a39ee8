"""Server-side masking of personal fields: ``138****8000``, ``z***@example.com``."""

from __future__ import annotations

MASK = "*"


def mask_phone(phone: str) -> str:
    """Keep the first three and last four digits of a long number, mask the middle."""
    text = phone.strip()
    if len(text) <= 4:
        return MASK * len(text)
    if len(text) < 8:
        return text[:1] + MASK * (len(text) - 3) + text[-2:]
    return text[:3] + MASK * 4 + text[-4:]


def mask_email(email: str) -> str:
    local, at, domain = email.strip().partition("@")
    if not at:
        return MASK * 3
    return f"{local[:1]}{MASK * 3}@{domain}"


def mask_text(text: str) -> str:
    if not text:
        return text
    return text[:1] + MASK * 3


def mask_value(field: str, value: object) -> object:
    """Mask one field's value by its kind; empty values stay empty."""
    if value in (None, ""):
        return value
    text = str(value)
    if "phone" in field or field == "mobile":
        return mask_phone(text)
    if "email" in field:
        return mask_email(text)
    return mask_text(text)
