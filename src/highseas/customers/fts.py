"""The database objects behind public search, per vendor (no model imports: migrations use it).

SQLite: an FTS5 table with the trigram tokenizer over ``customers_customer.name`` (external
content, so the names are not stored twice), kept in sync by three triggers, so every writer —
the services, the demo loader, the bench's raw ``INSERT``s — is indexed alike.

Only names are indexed: phones and e-mails are encrypted at rest (``customers.crypto``) and
are found by their blind duplicate keys, never through these indexes.

PostgreSQL: the ``pg_trgm`` extension and a GIN trigram index on the name, which serves
``name ILIKE '%…%'``.

Django rebuilds a SQLite table to alter one of its columns, which drops the table's triggers;
``ensure_search_index`` puts them back (and rebuilds the index) when they are missing.

Indexing row by row through the triggers costs about 0.15 ms an insert; a bulk loader (demo,
bench, large imports) can wrap its load in ``search_index_suspended``, which drops the
triggers and rebuilds the index once at the end, several times faster.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

log = logging.getLogger(__name__)

TABLE = "customers_customer"
FTS_TABLE = "customers_customer_fts"
TRIGGERS = {
    f"{FTS_TABLE}_ai": f"AFTER INSERT ON {TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, name) VALUES (new.id, new.name); END",
    f"{FTS_TABLE}_ad": f"AFTER DELETE ON {TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name) VALUES ('delete', old.id, old.name); "
    "END",
    f"{FTS_TABLE}_au": f"AFTER UPDATE OF name ON {TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name) VALUES ('delete', old.id, old.name); "
    f"INSERT INTO {FTS_TABLE}(rowid, name) VALUES (new.id, new.name); END",
}
TRGM_INDEX = "customer_name_trgm"


def _sqlite_create(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            f"name, content='{TABLE}', content_rowid='id', tokenize='trigram', columnsize=0)"
        )
        for name, body in TRIGGERS.items():
            cursor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def _sqlite_drop_triggers(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def _sqlite_drop(connection: BaseDatabaseWrapper) -> None:
    _sqlite_drop_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def _postgresql_create(connection: BaseDatabaseWrapper) -> None:
    """The extension needs the right to create it (trusted since PostgreSQL 13: the database
    owner has it). Without it, search still works, by a sequential scan."""
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON {TABLE} USING gin (name gin_trgm_ops)"
            )
    except Exception as error:  # the driver's error type depends on the server's answer
        log.warning("public search runs without a trigram index: %s", error)


def _postgresql_drop(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {TRGM_INDEX}")


def create_search_index(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "sqlite":
        _sqlite_create(connection)
    elif connection.vendor == "postgresql":
        _postgresql_create(connection)


def drop_search_index(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "sqlite":
        _sqlite_drop(connection)
    elif connection.vendor == "postgresql":
        _postgresql_drop(connection)


def sqlite_index_is_complete(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master "
            "WHERE name = %s OR (type = 'trigger' AND tbl_name = %s)",
            [FTS_TABLE, TABLE],
        )
        present = {row[0] for row in cursor.fetchall()}
    return FTS_TABLE in present and set(TRIGGERS) <= present


def ensure_search_index(connection: BaseDatabaseWrapper) -> bool:
    """Create what is missing; ``True`` when something had to be (re)built."""
    if connection.vendor != "sqlite" or sqlite_index_is_complete(connection):
        return False
    log.warning("rebuilding the public search index (its triggers were missing)")
    _sqlite_create(connection)
    return True


@contextmanager
def search_index_suspended(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """On SQLite, no per-row indexing inside the block, one rebuild after it (whatever
    happened inside, so the index always ends complete). Elsewhere, nothing changes."""
    if connection.vendor != "sqlite":
        yield
        return
    _sqlite_drop_triggers(connection)
    try:
        yield
    finally:
        _sqlite_create(connection)
