"""Writing the audit log (SPEC §13): one function, so every row has the same shape.

Rows are append-only: nothing in HighSeas updates or deletes them, and the admin offers no
add, change or delete. ``detail`` holds the facts of the action (before/after of a policy, the
field revealed, the rows exported …); ``address`` the client address where there is one.
"""

from __future__ import annotations

from typing import Any

from highseas.accounts.models import AuditLog, User


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
