"""The one door of exact-identifier lookups: public search and the duplicate check.

A full phone, e-mail or unified social credit code is an oracle: it answers whether that exact
value is on file and who holds it (a masked ``152****2730`` falls to ~10,000 guesses). So, for
every viewer, whichever edge asks:

1. a lookup is exact when the search text is a phone, e-mail or credit code (the rules of
   ``customers.search``), or when a duplicate check names one of them validly; a name is not;
2. each exact lookup appends an ``exact_lookup`` audit row with the kinds looked up and the
   values masked (never in clear), inside the viewer's per-user lock;
3. a viewer with ``HIGHSEAS_EXACT_LOOKUPS_PER_HOUR`` such rows in the last hour is refused
   with ``lookup_limit_reached`` (429; facts: ``limit``, ``resets_at`` when the oldest counted
   lookup leaves the hour, ``retry_after_seconds``); nothing is looked up;
4. the first refusal in an hour appends a ``lookup_limit`` audit row and tells every active
   admin (a notification); later refusals in that hour add nothing;
5. the count lives in the database (the audit rows), so it holds across processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.duplicates import find_matches, keys_of
from highseas.customers.search import PHONE_TEXT, SearchPage, search
from highseas.engine.duplicates import EntryPoint, decide
from highseas.engine.errors import ErrorCode, HighSeasError, gettext_noop
from highseas.engine.masking import mask_value
from highseas.engine.normalize import (
    fold,
    normalize_credit_code,
    normalize_email,
    normalize_phone,
)
from highseas.notify.services import notify
from highseas.pools import dedup
from highseas.pools.models import Pool

WINDOW = timedelta(hours=1)
DEFAULT_LIMIT = 30
EXACT_KINDS = ("phone", "email", "credit_code")


@dataclass(frozen=True)
class Lookup:
    """What a request looks up exactly: the kinds, and each value masked."""

    kinds: list[str]
    masked: list[str]


def lookups_per_hour() -> int:
    return int(getattr(settings, "HIGHSEAS_EXACT_LOOKUPS_PER_HOUR", DEFAULT_LIMIT))


def kind_of(kind: str, text: str) -> str | None:
    """``kind`` when ``text`` is a valid value of that kind (what the lookup would match)."""
    normalize = {
        "phone": normalize_phone,
        "email": normalize_email,
        "credit_code": normalize_credit_code,
    }[kind]
    return kind if text.strip() and normalize(text) else None


def search_kind(text: str) -> str | None:
    """Which exact key a search text is (``customers.search`` rules 1–3), if any."""
    if "@" in text:
        return kind_of("email", text)
    if PHONE_TEXT.match(fold(text)) and normalize_phone(text):
        return "phone"
    return kind_of("credit_code", text)


def _lookup(values: Mapping[str, str]) -> Lookup | None:
    kinds = [kind for kind in EXACT_KINDS if kind in values and kind_of(kind, values[kind])]
    if not kinds:
        return None
    return Lookup(kinds, [str(mask_value(kind, values[kind].strip())) for kind in kinds])


def _admins() -> list[int]:
    admins = User.objects.filter(is_active=True, role=Role.ADMIN)
    return list(admins.values_list("pk", flat=True))


def _tell_admins(viewer: Viewer, limit: int) -> None:
    title = _("%(user)s reached the exact-lookup limit") % {"user": viewer.user.label}
    body = _(
        "%(user)s looked up %(limit)d full phones, e-mails or credit codes within an hour; "
        "further lookups are refused until the hour has passed."
    ) % {"user": viewer.user.label, "limit": limit}
    for admin_id in _admins():
        notify(admin_id, "lookup_limit", title, body)


def _refusal(limit: int, oldest: datetime, now: datetime) -> HighSeasError:
    resets_at = oldest + WINDOW
    return HighSeasError(
        ErrorCode.LOOKUP_LIMIT_REACHED,
        gettext_noop("You have reached the limit of exact lookups for this hour."),
        limit=limit,
        resets_at=resets_at.isoformat(),
        retry_after_seconds=max(1, int((resets_at - now).total_seconds())),
    )


def admit(viewer: Viewer, lookup: Lookup, *, address: str | None = None) -> None:
    """Count one exact lookup for the viewer, or refuse it (the module's steps 2–4). The
    refusal's audit row and notices are committed before the refusal is raised."""
    now = timezone.now()
    limit = lookups_per_hour()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=viewer.user.pk).first()  # one at a time
        mine = AuditLog.objects.filter(actor=viewer.user, at__gt=now - WINDOW)
        counted = mine.filter(action=AuditLog.Action.EXACT_LOOKUP)
        if counted.count() < limit:
            record_audit(
                viewer.user,
                AuditLog.Action.EXACT_LOOKUP,
                address=address,
                kinds=lookup.kinds,
                masked=lookup.masked,
            )
            return
        oldest = counted.order_by("at").values_list("at", flat=True).first() or now
        if not mine.filter(action=AuditLog.Action.LOOKUP_LIMIT).exists():
            record_audit(viewer.user, AuditLog.Action.LOOKUP_LIMIT, address=address, limit=limit)
            _tell_admins(viewer, limit)
    raise _refusal(limit, oldest, now)


def public_search(
    viewer: Viewer,
    text: str,
    *,
    before: int | None = None,
    limit: int = 20,
    address: str | None = None,
) -> SearchPage:
    """Public search (``customers.search``) for the viewer, exact lookups counted."""
    text = text.strip()
    if kind := search_kind(text):
        admit(viewer, Lookup([kind], [str(mask_value(kind, text))]), address=address)
    return search(text, before=before, limit=limit)


def check_duplicates(
    viewer: Viewer,
    fields: Mapping[str, Any],
    *,
    pool: Pool | None,
    entry_point: EntryPoint,
    address: str | None = None,
) -> dict[str, Any]:
    """Who already has this customer (decision and matches, public views with the holder)
    for the viewer; a check naming a phone, e-mail or credit code is an exact lookup."""
    values = {kind: str(fields.get(kind) or "") for kind in EXACT_KINDS}
    if lookup := _lookup(values):
        admit(viewer, lookup, address=address)
    matches = find_matches(keys_of(dict(fields)))
    verdict = decide(dedup.action_of(pool, entry_point), matches)
    decision = "block" if verdict.blocking else "warn" if verdict.warnings else "ok"
    return {"decision": decision, "matches": dedup.describe(matches)}
