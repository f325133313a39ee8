"""A write that lost to a lock is answered ``busy``, not as a server error.

On SQLite a writer that waits for the write lock longer than the connection's ``timeout``
fails with "database is locked" (from the write gate of ``config.sqlite`` or from SQLite's own
busy handler, for a writer of another process). On PostgreSQL a statement fails when it waits
longer than ``lock_timeout``, when it is chosen as a deadlock's victim, or when a serializable
transaction cannot be ordered (no ``lock_timeout`` is set by HighSeas: a deployment may set
one). Each time the failing transaction rolled back whole and nothing of it is lost; a long
job's earlier batches stay done, and running it again picks up the rest. The same request
sent again will most likely pass. The edges answer it with the stable code ``busy`` (HTTP 503
with ``Retry-After``), instead of an unexplained 500. A deadlock is logged as an error with
its traceback: every writer of ownership locks in one order, so one means a defect.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError

from highseas.engine.errors import ErrorCode, HighSeasError, gettext_noop

log = logging.getLogger("highseas.contention")

RETRY_AFTER_SECONDS = 1
SQLITE_MESSAGES = ("database is locked",)  # SQLITE_BUSY past the timeout
DEADLOCK = "40P01"
# lock_not_available, deadlock_detected, serialization_failure
POSTGRESQL_STATES = frozenset({"55P03", "40P01", "40001"})


def busy_error(error: BaseException) -> HighSeasError | None:
    """``busy`` for a database error that a lock caused (see the module), else ``None``."""
    if not isinstance(error, DatabaseError):
        return None
    state = getattr(error.__cause__, "sqlstate", None)
    if state not in POSTGRESQL_STATES and not str(error).startswith(SQLITE_MESSAGES):
        return None
    if state == DEADLOCK:
        log.error("a deadlock (answered busy): %s", error, exc_info=error)
    else:
        log.warning("a write lost to a lock and was rolled back (answered busy): %s", error)
    return HighSeasError(
        ErrorCode.BUSY,
        gettext_noop("The server is too busy to do this right now; try again in a moment."),
        retry_after_seconds=RETRY_AFTER_SECONDS,
    )
