"""A service's refusal in plain words: the translated sentence plus the facts behind it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from highseas.engine.errors import ErrorCode, HighSeasError


def local_time(value: Any) -> str:
    """An ISO time from a refusal's facts, in the organization's zone."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return str(value)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _quota(facts: dict[str, Any]) -> str:
    if facts.get("period") == "week":
        text = _("You have used this week's claim quota (%(used)s of %(limit)s).")
    else:
        text = _("You have used today's claim quota (%(used)s of %(limit)s).")
    return text % {"used": facts.get("used"), "limit": facts.get("limit")}


def _cap(facts: dict[str, Any]) -> str:
    return _(
        "You already hold %(holdings)s customers, the most you may (%(limit)s). "
        "Release one or close a deal first."
    ) % {"holdings": facts.get("holdings"), "limit": facts.get("limit")}


def _cooldown(facts: dict[str, Any]) -> str:
    return _("You gave this customer up recently; you may claim it again after %(time)s.") % {
        "time": local_time(facts.get("cooldown_ends_at"))
    }


def _owned(facts: dict[str, Any]) -> str:
    holder = facts.get("holder")
    if holder:
        return _("%(holder)s already holds this customer.") % {"holder": holder}
    return _("This customer already has an owner.")


def _frozen(facts: dict[str, Any]) -> str:
    if facts.get("frozen_until"):
        return _("This customer is frozen until %(time)s.") % {
            "time": local_time(facts["frozen_until"])
        }
    return _("This customer is frozen.")


def _freeze_limit(facts: dict[str, Any]) -> str:
    if facts.get("latest_until"):
        return _("A freeze may last until %(time)s at the latest.") % {
            "time": local_time(facts["latest_until"])
        }
    return _("The owner already has %(frozen)s frozen customers, the most allowed (%(limit)s).") % {
        "frozen": facts.get("frozen"),
        "limit": facts.get("limit"),
    }


DUPLICATE_STATUS = {
    "unassigned": gettext_lazy("unassigned in the pool"),
    "owned": gettext_lazy("owned"),
    "frozen": gettext_lazy("frozen"),
    "recycled": gettext_lazy("back in the pool"),
}


def _duplicate(facts: dict[str, Any]) -> str:
    holder = facts.get("holder")
    if not holder:
        return _("This customer already exists.")
    status = DUPLICATE_STATUS.get(str(facts.get("status")), "")
    if status:
        return _("This customer already exists: %(holder)s, %(status)s.") % {
            "holder": holder,
            "status": status,
        }
    return _("This customer already exists: %(holder)s.") % {"holder": holder}


PLAIN: dict[ErrorCode, Callable[[dict[str, Any]], str]] = {
    ErrorCode.CLAIM_QUOTA_EXCEEDED: _quota,
    ErrorCode.HOLDING_CAP_REACHED: _cap,
    ErrorCode.RECLAIM_COOLDOWN: _cooldown,
    ErrorCode.ALREADY_OWNED: _owned,
    ErrorCode.FROZEN: _frozen,
    ErrorCode.FREEZE_LIMIT_REACHED: _freeze_limit,
    ErrorCode.DUPLICATE: _duplicate,
}


def _cap_of(receiver: str, facts: dict[str, Any]) -> str:
    return _("%(name)s already holds %(holdings)s customers, the most allowed (%(limit)s).") % {
        "name": receiver,
        "holdings": facts.get("holdings"),
        "limit": facts.get("limit"),
    }


def plain_words(error: HighSeasError, *, receiver: str = "") -> str:
    """What to tell the user; falls back to the service's own sentence, translated. With a
    ``receiver`` (assign, transfer) a holding cap is theirs, not the user's."""
    if receiver and error.code is ErrorCode.HOLDING_CAP_REACHED:
        return _cap_of(receiver, error.facts)
    explain = PLAIN.get(error.code)
    if explain is not None:
        return explain(error.facts)
    return _(error.detail)
