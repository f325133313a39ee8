"""Writing the audit log (SPEC §13): one function, so every row has the same shape.

Rows are append-only: nothing in HighSeas updates or deletes them, and the admin offers no
add, change or delete. ``detail`` holds the facts of the action (before/after of a policy, the
field revealed, the rows exported …); ``address`` the client address where there is one.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from highseas.accounts.models import AuditLog, User
from highseas.engine.errors import ErrorCode, HighSeasError

if TYPE_CHECKING:
    from highseas.accounts.visibility import Viewer


def record_audit(
    actor: User | None,
    action: AuditLog.Action,
    *,
    target_type: str = "",
    target_id: object = "",
    address: str | None = None,
    **detail: Any,
) -> AuditLog:
    """Append one audit row; call it inside the transaction of the action it records, so a
    refused or rolled-back action leaves no row (a denial records itself on purpose)."""
    return AuditLog.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id != "" else "",
        address=address,
        detail=detail,
    )


def audit_entries(
    viewer: Viewer,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: str | None = None,
) -> QuerySet[AuditLog]:
    """The audit rows the viewer may read, filtered: admins all of them, managers those whose
    actor is in their team subtree (themselves included), everyone else is refused.

    ``action`` is one of ``AuditLog.Action``; ``actor`` a user id or username; ``since`` an ISO
    date or time. A filter that cannot be read is a ``validation_error``.
    """
    if not viewer.is_manager_or_admin:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("Only managers and administrators may read the audit log."),
        )
    rows = AuditLog.objects.select_related("actor")
    if not viewer.is_admin:
        rows = rows.filter(Q(actor=viewer.user) | Q(actor__team_id__in=viewer.subtree_team_ids))
    errors: dict[str, list[str]] = {}
    if action:
        if action not in AuditLog.Action.values:
            errors["action"] = [f"one of {', '.join(AuditLog.Action.values)}"]
        rows = rows.filter(action=action)
    if actor:
        by = Q(actor_id=int(actor)) if actor.isdigit() and len(actor) < 19 else Q()
        rows = rows.filter(by | Q(actor__username=actor))
    if since:
        moment = _moment(since)
        if moment is None:
            errors["since"] = ["an ISO date (2026-01-31) or time (2026-01-31T08:00:00+08:00)"]
        else:
            rows = rows.filter(at__gte=moment)
    if errors:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR, _("Check the audit log filters."), errors=errors
        )
    return rows


def _moment(raw: str) -> datetime | None:
    try:
        moment = parse_datetime(raw)
        if moment is None:
            day = parse_date(raw)
            if day is None:
                return None
            moment = datetime.combine(day, time.min)
    except (ValueError, OverflowError):
        return None
    if not 1 < moment.year < 9999:  # the first and last years overflow when moved to UTC
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def target_of(row: AuditLog) -> dict[str, str] | None:
    return {"type": row.target_type, "id": row.target_id} if row.target_type else None
