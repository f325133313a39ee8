"""Batch sizes for a long writer: large while nobody waits for it, short while somebody does.

A long job (an assignment run over a backlog, an import's commit) writes in batches, one
transaction each. On SQLite a transaction holds the only write lock, so a claim that arrives
during a batch waits for the rest of it: at 5,000 customers a batch of a run held the lock for
0.6–1.4 s. Large batches are faster, each paying its fixed costs once (the batch's round-robin
pointers and reps, the roster's counts, the commit); small ones keep the wait short. So the job
paces its batches by the write gate (``base``), which tells each connection how long its last
transaction held the gate and whether a writer waited for it to end (``base.Hold``):

1. the first batch is small (``FIRST``), so the first claim of a rush never waits behind a
   large one;
2. after a batch nobody waited for, the next one is twice as large, up to the job's own size;
3. after a batch somebody waited for, the next one is sized to hold the lock for
   ``BUDGET_MS`` at the rate this one went, never below ``SMALLEST`` nor above the job's size.

Every batch has the job's own size on PostgreSQL (row locks: writers of other rows do not wait),
on a connection without the gate (a private copy, ``snapshot``), and inside a transaction of
the caller's (the batches are savepoints of it, and the lock is held to its end anyway). A
writer of another process (``highseas worker``, a ``manage`` command) on the same file waits in
SQLite's busy handler, which the gate does not see: for it the job's batches stay large.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

FIRST = 250
SMALLEST = 50
BUDGET_MS = 100.0


class Pacer:
    """The size of a job's next batch (see the module): read ``size()`` before each batch,
    then tell ``wrote`` how many rows that batch's transaction wrote."""

    def __init__(self, largest: int, alias: str = DEFAULT_DB_ALIAS) -> None:
        self.largest = max(1, largest)
        self._connection = connections[alias]
        self.paced = (
            self._connection.vendor == "sqlite"
            and bool(self._connection.settings_dict.get("WRITE_GATE", True))
            and not self._connection.in_atomic_block
        )
        self._size = min(self.largest, FIRST) if self.paced else self.largest
        self._before: object = None

    def size(self) -> int:
        self._before = getattr(self._connection, "last_hold", None)
        return self._size

    def wrote(self, rows: int) -> None:
        hold = getattr(self._connection, "last_hold", None)
        if not self.paced or rows <= 0 or hold is None or hold is self._before:
            return  # nothing to go by: no transaction of its own ended since ``size``
        if hold.waited_for:
            fitting = rows * BUDGET_MS / max(hold.milliseconds, 1.0)
            self._size = int(min(self.largest, max(SMALLEST, fitting)))
        else:
            self._size = min(self.largest, self._size * 2)
