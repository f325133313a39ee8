"""Precompiled statements run on SQLite's own cursor, inside a transaction.

Django's cursor converts a statement's placeholders on every call (a pass over the whole
text), wraps the call in three layers of Python and is opened anew by each ``with``: 15 to
40 µs a statement, more than SQLite's own work for a read by primary key. A hot path (the
claim) runs statements built once per process; here their placeholders are converted once
and they run on the DB-API connection, with Django's error translation kept
(``wrap_database_errors``), so a failure raises the same ``django.db`` error.

They go through Django's cursor as before whenever it would do more than that:
1. on another database than SQLite;
2. outside an atomic block (the write gate guards a write outside one, ``config.sqlite``);
3. when queries are logged (``DEBUG``, ``CaptureQueriesContext``, ``assertNumQueries``), so
   every statement is still in the log;
4. when the transaction is already broken (Django refuses the statement).

An ``execute_wrapper`` (a bench's statement counter, a helper process that refuses every
query) is called around the driver's own statement, as Django's cursor calls it (outermost
first, with Django's errors), so it sees every statement without sending the path it counts
or times down Django's cursor; its ``context`` has no ``cursor``.

A read that needs no transaction (``read_all``: the token sign-in, one per API request) runs on
the driver's cursor outside one as well: rule 2 is for writes, which the write gate must see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, partial
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX

Params = Sequence[Any] | Mapping[str, Any]


@lru_cache(maxsize=64)
def _converted(sql: str, names: tuple[str, ...] | None) -> str:
    """Django's placeholders as sqlite3's (``SQLiteCursorWrapper.convert_query``)."""
    if names is None:
        return str(FORMAT_QMARK_REGEX.sub("?", sql)).replace("%%", "%")
    return str(sql % {name: f":{name}" for name in names})


def _direct(db: Any, *, in_transaction: bool = True) -> bool:
    return (
        db.vendor == "sqlite"
        and (db.in_atomic_block or not in_transaction)
        and not db.needs_rollback
        and not db.queries_logged
    )


def _execute(db: Any, sql: str, params: Params) -> Any:
    """``sql`` run on the DB-API connection, inside the connection's execute wrappers."""

    def execute(sql: str, params: Params, _many: bool, _context: Any) -> Any:
        names = tuple(params) if isinstance(params, Mapping) else None  # as a wrapper left them
        with db.wrap_database_errors:
            return db.connection.execute(_converted(sql, names), params)

    call: Callable[..., Any] = execute
    for wrapper in reversed(db.execute_wrappers):
        call = partial(wrapper, call)
    return call(sql, params, False, {"connection": db, "cursor": None})


def read_all(sql: str, params: Params) -> list[tuple[Any, ...]]:
    """Every row a read (a ``SELECT``) answers, inside a transaction or not, ``params`` bound
    as ``fetch_one`` binds them."""
    db = connections[DEFAULT_DB_ALIAS]
    if not _direct(db, in_transaction=False):
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    db.ensure_connection()
    with db.wrap_database_errors:
        return list(_execute(db, sql, params).fetchall())


def fetch_one(sql: str, params: Params) -> tuple[Any, ...] | None:
    """The first row ``sql`` answers (``None`` when none), ``params`` bound as Django binds
    them (``%s`` for a sequence, ``%(name)s`` for a mapping)."""
    db = connections[DEFAULT_DB_ALIAS]
    if not _direct(db):
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row
    with db.wrap_database_errors:
        found: tuple[Any, ...] | None = _execute(db, sql, params).fetchone()
    return found


def run(sql: str, params: Params) -> None:
    """Execute ``sql`` (a write) with ``params``, as ``fetch_one`` does."""
    db = connections[DEFAULT_DB_ALIAS]
    if not _direct(db):
        with db.cursor() as cursor:
            cursor.execute(sql, params)
        return
    _execute(db, sql, params)
