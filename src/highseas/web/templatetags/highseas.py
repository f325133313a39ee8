"""Template helpers: the unread count in the top bar."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from highseas.accounts.models import User
from highseas.customers.regions import label
from highseas.web.selectors import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: dict[str, Any]) -> int:
    """The signed-in user's unread notifications, counted once per request."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(user, User):
        return 0
    count = getattr(request, "_highseas_unread", None)
    if count is None:
        count = unread_count(user)
        request._highseas_unread = count  # type: ignore[union-attr]
    return int(count)


@register.filter
def money(amount: Decimal | float | int | None) -> str:
    """``¥94,000.00``: yuan with thousands separators, whatever the language."""
    if amount is None:
        return "—"
    return f"¥{Decimal(amount):,.2f}"


@register.filter
def region_label(name: str) -> str:
    """A province or city in the active language (``customers.regions.label``): ``Zhejiang``
    in English for the stored ``浙江``."""
    return label(name or "")
