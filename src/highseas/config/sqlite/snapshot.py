"""Work on a private copy of the SQLite database, for a transaction that is rolled back anyway.

SQLite has one writer at a time. A preview that plans by writing and then rolling back (an
import's: ``intake.imports``) holds the write lock from its first write to its rollback; over a
large file that is a minute in which every claim, follow-up and periodic job of the server
waits, and past the connection's ``timeout`` fails with ``database is locked``. On a copy it
holds nobody up:

1. the copy is taken with SQLite's online backup, from this thread's connection outside any
   transaction: one read of the database as it stands (a reader, which in WAL mode no writer
   waits for), into a file beside it (the same disk, never a temporary directory that may be
   memory);
2. while the block runs, this thread's connection under the alias is one to the copy, with no
   write gate (``base``); every other thread, and every other process, goes on with the real
   database;
3. afterwards the copy's connection is closed, the thread's own connection put back and the
   copy's files removed, however the block ended.

A copy costs time in proportion to the database's size (1.4 s for 290 MB on two shared
cores), so a caller uses one only where holding the write lock in place would cost others
more. Nothing is copied (the block runs in place, and ``on_a_copy`` yields ``False``) on
another database, inside a transaction (the block must see that transaction's writes), for an
in-memory database, or when the copy cannot be written (the disk is full): then in place is
still right, only slower for others, and that is logged.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

log = logging.getLogger("highseas.sqlite")

FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")


@contextmanager
def on_a_copy(alias: str = DEFAULT_DB_ALIAS) -> Iterator[bool]:
    """Run the block on a private copy of the database (see the module); whether it did."""
    source = connections[alias]
    if source.vendor != "sqlite" or source.in_atomic_block:
        yield False
        return
    name = str(source.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        yield False
        return
    path = _copied(source, Path(name).parent)
    if path is None:
        yield False
        return
    copy = type(source)({**source.settings_dict, "NAME": path, "WRITE_GATE": False}, alias)
    connections[alias] = copy
    try:
        yield True
    finally:
        try:
            copy.close()
        finally:
            connections[alias] = source
            _remove(path)


def _copied(source: BaseDatabaseWrapper, directory: Path) -> str | None:
    """The path of a fresh copy of ``source``'s database in ``directory``, or ``None``."""
    path = ""
    try:
        descriptor, path = tempfile.mkstemp(
            prefix=".highseas-copy-", suffix=".sqlite3", dir=directory
        )
        os.close(descriptor)
        source.ensure_connection()
        with closing(sqlite3.connect(path)) as target:
            source.connection.backup(target)
    except (OSError, sqlite3.Error) as error:
        log.warning("no private copy of the database (%s): working in place", error)
        if path:
            _remove(path)
        return None
    return path


def _remove(path: str) -> None:
    for suffix in FILE_SUFFIXES:
        with suppress(FileNotFoundError):
            os.remove(path + suffix)
