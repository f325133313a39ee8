"""Preparing an import's batches (``Importer.prepare``) beside the writes that apply them.

Preparing a row is pure work: decrypting its stored cells, parsing and checking them, its
duplicate keys and their blind values (about 100 µs of CPU a row, a third of a commit's
client CPU on PostgreSQL). It reads and writes nothing in the database. So while the batch
before it is applied (a transaction: statements on this process, the database's work on
PostgreSQL's server), the next batch is prepared by a helper process forked for the walk:

1. the first batch is prepared here while the helper prepares the second; from then on,
   while batch *k* is applied here, the helper prepares batch *k + 1*. One batch is with the
   helper at a time, so neither end of the pipe ever waits on the other's full buffer;
2. the helper only runs ``Importer.prepare``: any database query it would make raises
   (``_no_queries``), it never closes or finalizes a connection it inherited (see
   ``_start``), and it shares nothing back but the prepared rows (pickled);
3. if the helper fails (a row its ``prepare`` cannot take, a helper killed), that batch and
   the rest are prepared here, in line, as without a helper; so a batch's rows are the same
   ``Prepared`` rows either way, and an error ``prepare`` raises is raised here, by the same
   code;
4. a helper is forked only where forking is safe and worth it: the platform forks, this
   process runs no other thread than a lease's heartbeat (a server's request threads may
   hold locks a forked child would wait on forever), it is not a daemonic process, and the
   walk has a second batch. A helper that does not answer a batch within ``ANSWER_SECONDS``
   is killed (step 3).

A thread was tried first and measured: on two shared cores the threads' contention for the
GIL made a commit slower, in wall-clock and in CPU per row, than preparing in line.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections

from highseas.intake.importer import Importer, Prepared
from highseas.pools import leases

Batch = TypeVar("Batch")
RowsOf = Callable[[Any], Iterable[tuple[int, dict[str, str]]]]

_END = object()
# The longest the walk waits for the helper's answer before it prepares the batch in line (a
# batch takes it well under a second; a helper that hangs costs the walk this, once).
ANSWER_SECONDS = 30.0
# The longest a walk waits for a heartbeat's renewal to finish before it forks (step 4).
GUARD_SECONDS = 2.0


def may_fork() -> bool:
    """Whether a helper may be forked here (step 4, without the batch count)."""
    return (
        bool(getattr(settings, "HIGHSEAS_IMPORT_HELPER", True))
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon  # may have no children
        and all(
            # a lease's heartbeat (a commit holds the job's lease) waits on its event and
            # renews the lease on its own connection, holding nothing ``prepare`` takes
            thread is threading.current_thread() or thread.name.startswith(leases.HEARTBEAT_PREFIX)
            for thread in threading.enumerate()
        )
    )


@contextmanager
def prepared_batches(
    importer: Importer, batches: Iterable[Batch], rows_of: Callable[[Batch], Any]
) -> Iterator[Iterator[tuple[Batch, list[Prepared]]]]:
    """Each batch with its rows prepared (``rows_of`` then ``Importer.prepare``), in order.
    A batch is prepared before the caller's transaction for it (the helper's, or in line
    when the caller asks for it), so a batch's transaction, on SQLite the database's one
    writer, holds only its writes. The helper, if one was forked, is gone on leaving."""
    walk = _Walk(importer, rows_of)
    try:
        yield walk.pairs(iter(batches))
    finally:
        walk.stop()


class _Walk:
    def __init__(self, importer: Importer, rows_of: RowsOf) -> None:
        self.importer = importer
        self.rows_of = rows_of
        self.process: BaseProcess | None = None
        self.channel: Connection | None = None

    def in_line(self, batch: Any) -> list[Prepared]:
        return self.importer.prepare(self.rows_of(batch))

    def pairs(self, batches: Iterator[Any]) -> Iterator[tuple[Any, list[Prepared]]]:
        first = next(batches, _END)
        if first is _END:
            return
        current = next(batches, _END)
        asked = current is not _END and may_fork() and self._start() and self._ask(current)
        yield first, self.in_line(first)
        while current is not _END:
            following = next(batches, _END)  # read while the helper prepares ``current``
            prepared = self._answer() if asked else None
            if prepared is None:
                prepared = self.in_line(current)
            asked = following is not _END and self._ask(following)
            yield current, prepared
            current = following

    def _start(self) -> bool:
        # no heartbeat holds a connection the child would close (``leases.FORK_GUARD``; a
        # renewal waiting on the database holds it for long: then in line), and no collection
        # runs from the fork until the child has frozen what it inherited (``_serve``): what
        # was garbage here is never finalized there, where a connection's finalizer would act
        # on this process's session
        if not leases.FORK_GUARD.acquire(timeout=GUARD_SECONDS):
            return False
        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve, args=(theirs, ours, self.importer, self.rows_of), daemon=True
        )
        collecting = gc.isenabled()
        gc.disable()
        try:
            process.start()
        except Exception:  # no process to be had (a limit): in line
            ours.close()
            return False
        finally:
            if collecting:
                gc.enable()
            leases.FORK_GUARD.release()
            theirs.close()  # the helper's end: open in the helper only
        self.process, self.channel = process, ours
        return True

    def _ask(self, batch: Any) -> bool:
        if self.channel is None:
            return False
        try:
            self.channel.send(batch)
        except (OSError, ValueError):
            self.stop()  # from now on in line
            return False
        return True

    def _answer(self) -> list[Prepared] | None:
        """The helper's prepared rows for the batch it was asked, or ``None`` (step 3)."""
        assert self.channel is not None
        prepared: list[Prepared] | None = None
        try:
            if self.channel.poll(ANSWER_SECONDS):
                prepared = self.channel.recv()
        except (EOFError, OSError):
            prepared = None
        if prepared is None:
            self.stop()  # from now on in line
        return prepared

    def stop(self) -> None:
        channel, process = self.channel, self.process
        self.channel = self.process = None
        if channel is not None:
            with suppress(OSError, ValueError):
                channel.send(None)
            channel.close()
        if process is not None:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
            process.close()


def _serve(channel: Connection, parents: Connection, importer: Importer, rows_of: RowsOf) -> None:
    """The helper: prepare each batch it is sent until told to stop (``None``) or the pipe
    closes (the parent gone, even killed); a batch it cannot prepare is answered ``None``,
    and it stops."""
    gc.freeze()  # everything inherited: never collected here (see ``_Walk._start``)
    gc.enable()
    parents.close()  # the parent's end, inherited: open here, it would never read as closed
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the parent's to handle
    _no_queries()
    while True:
        try:
            batch = channel.recv()
        except EOFError:
            return
        if batch is None:
            return
        try:
            prepared: list[Prepared] | None = importer.prepare(rows_of(batch))
        except Exception:  # the parent prepares it in line and meets the error itself
            prepared = None
        try:
            channel.send(prepared)
        except OSError:  # the parent is gone
            return
        if prepared is None:
            return


def _no_queries() -> None:
    """Every database connection the helper inherited refuses to run a query: they are the
    parent's (one socket, one session), never the helper's to use."""
    for connection in connections.all():
        connection.execute_wrappers.append(_refuse)


def _refuse(*_args: Any) -> Any:
    raise RuntimeError("an import's helper process runs no database query")
