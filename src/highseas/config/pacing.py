"""Batch sizes for a long writer: large while nobody waits for it, short while somebody does.

A long job (an assignment run over a backlog) writes in batches, one transaction each, and a
claim that needs what a batch holds waits for the rest of it: on SQLite the only write lock,
on PostgreSQL the rows of every rep the run's rules reach. At 5,000 customers a batch of a run
held them for 0.5–1.4 s. Large batches are faster, each paying its fixed costs once (the
batch's round-robin pointers and reps, the roster's counts, the commit); small ones keep the
wait short. So the job paces its batches by whether anybody waited for the last one: on SQLite
the write gate (``base``) tells each connection how long its last transaction held the gate
and whether a writer waited for it to end (``base.Hold``); on PostgreSQL the batch asks, just
before it commits, whether another session waits for a lock it holds (``pg_blocking_pids``),
and its hold is its batch's time from when it holds its locks (``holding``; from ``size``
for a job that does not say) to after its commit, so that a wait for those locks behind a
claim does not count as holding them:

1. the first batch is small (``FIRST``), so a claim at the start of a run never waits behind
   a large one (a rush that begins once a quiet run has grown its batches waits for one
   of them, once);
2. after a batch nobody waited for, the next one is twice as large, up to the job's own size;
3. after a batch somebody waited for, the next one is sized to hold the lock for
   ``BUDGET_MS`` at the rate this one went, never below ``SMALLEST`` nor above the job's size.

Every batch has the job's own size on a connection without the gate (a private copy,
``snapshot``) and inside a transaction of the caller's (the batches are savepoints of it, and
the locks are held to its end anyway). On SQLite a writer of another process (``highseas
worker``, a ``manage`` command) waits in SQLite's busy handler, which the gate does not see:
for it the job's batches stay large.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

FIRST = 250
SMALLEST = 50
BUDGET_MS = 100.0
# whether a session waits for a lock this one holds: ``pg_locks`` is read live (the activity
# view is a snapshot kept to the end of the transaction), ``pg_blocking_pids`` only for waiters
WAITED_FOR_SQL = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted "
    "AND pg_backend_pid() = ANY (pg_blocking_pids(pid)))"
)


class Pacer:
    """The size of a job's next batch (see the module): read ``size()`` before each batch,
    call ``holding()`` once it holds its locks and ``before_commit()`` at the end of its
    transaction, then tell ``wrote`` how many of the job's items (an assignment run's
    customers) that batch took."""

    def __init__(self, largest: int, alias: str = DEFAULT_DB_ALIAS) -> None:
        self.largest = max(1, largest)
        self._connection = connections[alias]
        vendor = self._connection.vendor
        gated = bool(self._connection.settings_dict.get("WRITE_GATE", True))
        self._asks = vendor == "postgresql"
        self.paced = (
            settings.PACED_BATCHES
            and (self._asks or (vendor == "sqlite" and gated))
            and not self._connection.in_atomic_block
        )
        self._size = min(self.largest, FIRST) if self.paced else self.largest
        self._before: object = None
        self._started = 0.0
        self._waited_for: bool | None = None

    def size(self) -> int:
        self._before = getattr(self._connection, "last_hold", None)
        self._started = time.perf_counter()
        self._waited_for = None
        return self._size

    def unwaited_next(self) -> int:
        """The size the next batch will have if nobody waits for this one (what a job may
        prepare the next batch by; ``wrote`` decides)."""
        return min(self.largest, self._size * 2) if self.paced else self._size

    def holding(self) -> None:
        """The batch now holds the locks others wait for: on PostgreSQL its hold counts from
        here, not from ``size`` (a wait for them is not a hold)."""
        if self._asks:
            self._started = time.perf_counter()

    def before_commit(self) -> None:
        """On PostgreSQL, inside the batch's transaction: whether anybody waits for it."""
        if self.paced and self._asks:
            with self._connection.cursor() as cursor:
                cursor.execute(WAITED_FOR_SQL)
                self._waited_for = bool(cursor.fetchone()[0])

    def wrote(self, rows: int) -> None:
        if not self.paced or rows <= 0:
            return
        if self._asks:
            if self._waited_for is None:
                return  # the batch did not ask
            milliseconds = (time.perf_counter() - self._started) * 1000
            waited_for = self._waited_for
        else:
            hold = getattr(self._connection, "last_hold", None)
            if hold is None or hold is self._before:
                return  # no transaction of its own ended since ``size``: nothing to go by
            milliseconds, waited_for = hold.milliseconds, hold.waited_for
        if waited_for:
            fitting = rows * BUDGET_MS / max(milliseconds, 1.0)
            self._size = int(min(self.largest, max(SMALLEST, fitting)))
        else:
            self._size = min(self.largest, self._size * 2)
