"""The embedded server's checkpoints of SQLite's write-ahead log, off the requests' path.

SQLite appends every commit to the write-ahead log and copies the log into the database (a
checkpoint, ending in an fsync) inside whichever commit takes the log past
``wal_autocheckpoint`` pages (``settings.WAL_AUTOCHECKPOINT_PAGES``): that commit's caller
waits for it, and on the embedded server it still holds the write gate (``base``) meanwhile.
A thread of the embedded server checkpoints every ``EVERY_SECONDS`` instead, ``PASSIVE``: it
copies what no reader still needs, waits for nobody and takes no gate (a checkpoint is not a
write transaction), so writers and readers go on while it runs, and the log seldom grows far
enough for a request's commit to pay one. A failed checkpoint is logged, and the next one
tries again.
"""

from __future__ import annotations

import logging
import threading

from django.db import connection

log = logging.getLogger("highseas.sqlite")

EVERY_SECONDS = 1.0
THREAD = "highseas-checkpoints"


def checkpoint() -> tuple[int, int, int]:
    """One passive checkpoint on this thread's connection: SQLite's answer, (1 when it could
    not finish, pages in the log, pages copied)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, in_log, copied = cursor.fetchone()
    return int(busy), int(in_log), int(copied)


def _checkpoint_until(stop: threading.Event, every: float) -> None:
    try:
        while not stop.wait(every):
            try:
                checkpoint()
            except Exception:
                log.exception("checkpoint of the write-ahead log failed")
                connection.close()  # the next one opens a fresh connection
    finally:
        connection.close()


def start_checkpoints(
    stop: threading.Event, every: float = EVERY_SECONDS
) -> threading.Thread | None:
    """Checkpoint on a thread of its own until ``stop`` is set; none on another database."""
    if connection.vendor != "sqlite":
        return None
    thread = threading.Thread(
        target=_checkpoint_until, args=(stop, every), name=THREAD, daemon=True
    )
    thread.start()
    return thread
