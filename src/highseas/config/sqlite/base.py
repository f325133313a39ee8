"""Django's SQLite backend with a write gate: the writers of one process queue in Python.

SQLite lets one writer at a time. A write transaction that finds the database locked waits in
SQLite's busy handler, which sleeps and retries on a growing schedule (1, 2, 5, … then 100 ms
per try): under a burst of claims a writer can sleep for hundreds of milliseconds while other
writers come and go, though each holds the lock for a fraction of a millisecond. Here every
write transaction of the process (``BEGIN IMMEDIATE``, which ``atomic`` issues) first takes the
process's gate, and gives it back on commit, rollback or close:

1. a waiting writer wakes the moment the gate is free, instead of at its next retry;
2. a writer of a request goes first: the periodic jobs' thread (``highseas-jobs``) gets the
   gate only after every request writer waiting for it, so a claim waits for at most one
   of the jobs' transactions, never for a run of them;
3. a write statement outside a transaction (an implicit one) takes the gate as well;
4. waiting longer than the connection's ``timeout`` raises ``database is locked``, as SQLite
   itself would;
5. a transaction of the jobs' thread that held the gate longer than ``SLOW_MS`` is logged with
   its duration, so a job whose batches are too large for the embedded server shows itself;
6. each connection keeps how long its last transaction held the gate and whether a writer
   waited for it (``Hold``): a long job sizes its batches by it (``config.pacing``).
Other processes on the same file (``highseas worker``, ``manage`` commands) still meet SQLite's
own busy handler. A connection to a private copy of the database (``snapshot``, whose settings
say ``WRITE_GATE: False``) takes no gate: nobody else writes that file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db.backends.sqlite3 import base
from django.db.utils import OperationalError

log = logging.getLogger("highseas.sqlite")

JOBS_THREAD = "highseas-jobs"
SLOW_MS = 200.0


class WriteGate:
    """One writer at a time in this process, handed over in turn: writers of requests first,
    in arrival order, then the jobs' thread. A release wakes exactly the next writer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._requests: deque[threading.Event] = deque()
        self._jobs: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if not self._held:
                self._held = True
                return True
            is_job = threading.current_thread().name == JOBS_THREAD
            queue = self._jobs if is_job else self._requests
            turn = threading.Event()  # only a writer that waits needs one
            queue.append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn.is_set():  # handed over just as the wait ran out
                return True
            queue.remove(turn)
            return False

    def waiting(self) -> int:
        """How many writers wait for the gate now."""
        with self._lock:
            return len(self._requests) + len(self._jobs)

    def release(self) -> bool:
        """Give the gate up; whether a writer was waiting for it."""
        with self._lock:
            queue = self._requests or self._jobs
            if queue:
                queue.popleft().set()  # the gate stays held: it passes to that writer
                return True
            self._held = False
            return False


@dataclass(frozen=True)
class Hold:
    """A transaction's time with the gate, and whether another writer waited for its end."""

    milliseconds: float
    waited_for: bool


GATE = WriteGate()
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class GatedCursor(base.SQLiteCursorWrapper):
    """A write statement outside a transaction (an implicit one, such as a token's or a
    session's refresh) takes the gate too: waiting in SQLite's busy handler, it would lose to
    every gated writer until its timeout."""

    timeout: float = 5.0

    def execute(self, query: str, params: Any = None) -> Any:
        if not self._needs_gate(query):
            return super().execute(query, params)
        with _gate(self.timeout):
            return super().execute(query, params)

    def executemany(self, query: str, param_list: Any) -> Any:
        if not self._needs_gate(query):
            return super().executemany(query, param_list)
        with _gate(self.timeout):
            return super().executemany(query, param_list)

    def _needs_gate(self, query: str) -> bool:
        return not self.connection.in_transaction and query.lstrip()[:7].upper().startswith(WRITES)


@contextmanager
def _gate(timeout: float) -> Iterator[None]:
    if not GATE.acquire(timeout):
        raise OperationalError("database is locked")
    try:
        yield
    finally:
        GATE.release()


class DatabaseWrapper(base.DatabaseWrapper):
    _gate_taken_at: float | None = None
    last_hold: Hold | None = None  # this connection's last write transaction (``Hold``)

    @property
    def _timeout(self) -> float:
        return float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))

    @property
    def _gated(self) -> bool:
        return bool(self.settings_dict.get("WRITE_GATE", True))

    def create_cursor(self, name: str | None = None) -> Any:
        if not self._gated:
            return self.connection.cursor(factory=base.SQLiteCursorWrapper)
        cursor = self.connection.cursor(factory=GatedCursor)
        cursor.timeout = self._timeout
        return cursor

    def _start_transaction_under_autocommit(self) -> None:
        if not self._gated:
            self._begin()
            return
        if not GATE.acquire(self._timeout):
            raise OperationalError("database is locked")
        self._gate_taken_at = time.perf_counter()
        try:
            self._begin()
        except BaseException:
            self._open_gate()
            raise

    def _begin(self) -> None:
        """``BEGIN IMMEDIATE`` (the configured mode) on the driver's connection, as Django's
        own cursor would send it, unless queries are logged or wrapped: then through that
        cursor, so the statement is seen."""
        if self.queries_logged or self.execute_wrappers:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
            return
        mode = self.transaction_mode  # type: ignore[attr-defined]
        with self.wrap_database_errors:
            self.connection.execute(f"BEGIN {mode}" if mode else "BEGIN")

    def _open_gate(self) -> None:
        taken = self._gate_taken_at
        if taken is None:
            return
        self._gate_taken_at = None
        waited_for = GATE.release()
        held_ms = (time.perf_counter() - taken) * 1000
        self.last_hold = Hold(held_ms, waited_for)
        if held_ms > SLOW_MS and threading.current_thread().name == JOBS_THREAD:
            log.warning("a periodic job held the write lock for %.0f ms", held_ms)

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._open_gate()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._open_gate()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._open_gate()


__all__ = ["DatabaseWrapper"]
