"""Expected refusals, seen from the edges: one log line each, and an audit row for a denial.

A ``HighSeasError`` (or a framework 403/404/405) is part of normal operation: it is logged as
one line ``refused <code> <method> <path> user=<username>`` at INFO, never with a traceback.
A permission denial also appends a ``permission_denied`` audit row with the path and the
address, unless the service that refused already wrote its own (``error.audited``).
"""

from __future__ import annotations

import logging
from typing import Any

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, User
from highseas.engine.errors import ErrorCode, HighSeasError

log = logging.getLogger("highseas.refusals")

DENIALS = frozenset({ErrorCode.PERMISSION_DENIED})


def note_refusal(request: Any, error: HighSeasError) -> None:
    user = getattr(request, "user", None)
    username = user.get_username() if isinstance(user, User) else "-"
    method = getattr(request, "method", "") or ""
    path = getattr(request, "path", "") or ""
    log.info("refused %s %s %s user=%s", error.code.value, method, path, username)
    if error.code in DENIALS and not error.audited:
        record_audit(
            user if isinstance(user, User) else None,
            AuditLog.Action.PERMISSION_DENIED,
            address=(request.META.get("REMOTE_ADDR") or None) if request is not None else None,
            path=path,
            method=method,
            code=error.code.value,
        )
