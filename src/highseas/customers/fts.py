"""The database objects behind search, per vendor (no model imports: migrations use it).

Three indexes, each kept by the database itself (triggers or expression indexes), so every
writer — the services, the demo loader, the bench's raw ``INSERT``s, ``COPY`` — is indexed
alike:

1. **names, by trigram** (queries of 3 characters or more): SQLite's FTS5 table with the
   trigram tokenizer over ``customers_customer.name`` (external content); PostgreSQL's
   ``pg_trgm`` GIN index, which serves ``name ILIKE '%…%'``;
2. **names, by character pairs** (1- and 2-character queries, which trigrams cannot serve:
   科技, 杭州, 华为 in the middle of a name): SQLite, a contentless FTS5 table
   (``unicode61``, ``detail=none``) holding each name as its overlapping pairs — 科技有限
   → ``科技 技有 有限 限`` — cut by the triggers with a table of positions; a pair is one token,
   a single character is a token prefix. PostgreSQL, a GIN index on
   ``highseas_name_grams(name)``: the name's single characters and pairs, lower-cased;
3. **contacts by name** (``contact_search_name``), for a contact's name, exact or prefix;
4. **pinyin of core names** (``customers_core_pinyin``: core, syllables, initials): a trigger
   queues each new ``name_key`` (the core name, ``engine.normalize``) with empty pinyin;
   ``fill_pinyin`` computes the pending ones in Python (pypinyin), and search calls it before
   a pinyin query, so a customer created a moment ago is found by ``huawei`` too.

On PostgreSQL, indexes 1 and 2 are on ``customers_customer_names`` (the customer's id as
``rowid``, and its name), kept by triggers on insert, rename, delete and truncate, and read
joined to the customers by id, as SQLite's FTS tables are. On the customers table itself they
were on the hot path: an ownership change (claim, assign, sweep, release) rewrites indexed
columns, so no update is HOT and each one added its row to every index, both GIN indexes
included — about a third of the update's server time, and a GIN pending list that overflowed
was cleaned up inside whichever claim overflowed it (1–2 s at 1M customers). An ownership
change does not touch the names table.

Only names are indexed: phones and e-mails are encrypted at rest (``customers.crypto``) and
are found by their blind duplicate keys, never through these indexes.

Django rebuilds a SQLite table to alter one of its columns, which drops the table's triggers;
``ensure_search_index`` puts them back (and rebuilds the indexes) when they are missing.

Indexing row by row through the triggers costs a fraction of a millisecond an insert; a bulk
loader (demo, bench, large imports) can wrap its load in ``search_index_suspended``, which
drops the SQLite triggers and rebuilds the indexes once at the end, several times faster.
A transaction that is rolled back whatever happens (an import's preview) writes no index at
all inside ``search_upkeep_off``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from highseas.engine.pinyin import pinyin_keys

log = logging.getLogger(__name__)

TABLE = "customers_customer"
FTS_TABLE = "customers_customer_fts"
GRAMS_TABLE = "customers_customer_grams"
POSITIONS_TABLE = "customers_search_positions"
PINYIN_TABLE = "customers_core_pinyin"
MAX_NAME = 200  # Customer.name's max_length: one position per character


def _pairs(name: str) -> str:
    """SQL for the pairs document of a name expression (see the module's index 2)."""
    return (
        f"(SELECT group_concat(substr({name}, i, 2), ' ') FROM {POSITIONS_TABLE} "
        f"WHERE i <= length({name}))"
    )


_QUEUE_PINYIN = f"INSERT OR IGNORE INTO {PINYIN_TABLE}(core) VALUES (new.name_key)"
TRIGGERS = {
    f"{FTS_TABLE}_ai": f"AFTER INSERT ON {TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, name) VALUES (new.id, new.name); END",
    f"{FTS_TABLE}_ad": f"AFTER DELETE ON {TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name) VALUES ('delete', old.id, old.name); "
    "END",
    f"{FTS_TABLE}_au": f"AFTER UPDATE OF name ON {TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name) VALUES ('delete', old.id, old.name); "
    f"INSERT INTO {FTS_TABLE}(rowid, name) VALUES (new.id, new.name); END",
    f"{GRAMS_TABLE}_ai": f"AFTER INSERT ON {TABLE} BEGIN "
    f"INSERT INTO {GRAMS_TABLE}(rowid, grams) VALUES (new.id, {_pairs('new.name')}); END",
    f"{GRAMS_TABLE}_ad": f"AFTER DELETE ON {TABLE} BEGIN "
    f"INSERT INTO {GRAMS_TABLE}({GRAMS_TABLE}, rowid, grams) "
    f"VALUES ('delete', old.id, {_pairs('old.name')}); END",
    f"{GRAMS_TABLE}_au": f"AFTER UPDATE OF name ON {TABLE} BEGIN "
    f"INSERT INTO {GRAMS_TABLE}({GRAMS_TABLE}, rowid, grams) "
    f"VALUES ('delete', old.id, {_pairs('old.name')}); "
    f"INSERT INTO {GRAMS_TABLE}(rowid, grams) VALUES (new.id, {_pairs('new.name')}); END",
    f"{PINYIN_TABLE}_ai": f"AFTER INSERT ON {TABLE} WHEN new.name_key IS NOT NULL BEGIN "
    f"{_QUEUE_PINYIN}; END",
    f"{PINYIN_TABLE}_au": f"AFTER UPDATE OF name_key ON {TABLE} "
    f"WHEN new.name_key IS NOT NULL BEGIN {_QUEUE_PINYIN}; END",
}
TRGM_INDEX = "customer_name_trgm"
GRAMS_INDEX = "customer_name_grams"
GRAMS_FUNCTION = "highseas_name_grams"
QUEUE_FUNCTION = "highseas_queue_core_pinyin"
QUEUE_TRIGGER = "customers_core_pinyin_queue"
PINYIN_BATCH = 5000
NAMES_TABLE = "customers_customer_names"  # PostgreSQL: the names indexes 1 and 2 search
NAMES_FUNCTION = "highseas_keep_customer_names"
CONTACT_TABLE = "customers_contact"
CONTACT_INDEX = "contact_search_name"
UPKEEP_SETTING = "highseas.search_upkeep"  # PostgreSQL: ``off`` inside ``search_upkeep_off``


def _create_pinyin_table(cursor: Any) -> None:
    execute = cursor.execute
    execute(
        f"CREATE TABLE IF NOT EXISTS {PINYIN_TABLE} "
        "(core varchar(200) PRIMARY KEY, pinyin varchar(200), initials varchar(200))"
    )
    execute(f"CREATE INDEX IF NOT EXISTS {PINYIN_TABLE}_pinyin ON {PINYIN_TABLE} (pinyin)")
    execute(f"CREATE INDEX IF NOT EXISTS {PINYIN_TABLE}_initials ON {PINYIN_TABLE} (initials)")
    execute(
        f"CREATE INDEX IF NOT EXISTS {PINYIN_TABLE}_pending ON {PINYIN_TABLE} (core) "
        "WHERE pinyin IS NULL"
    )


def _create_contact_index(cursor: Any) -> None:
    """Contacts by name (exact and prefix), for search by a contact's name."""
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {CONTACT_INDEX} ON {CONTACT_TABLE} (name)")


def _queue_every_core(cursor: Any) -> None:
    cursor.execute(
        f"INSERT INTO {PINYIN_TABLE}(core) SELECT DISTINCT name_key FROM {TABLE} "
        "WHERE name_key IS NOT NULL ON CONFLICT DO NOTHING"
    )


def _sqlite_rebuild(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        cursor.execute(f"INSERT INTO {GRAMS_TABLE}({GRAMS_TABLE}) VALUES ('delete-all')")
        cursor.execute(
            f"INSERT INTO {GRAMS_TABLE}(rowid, grams) "
            f"SELECT c.id, group_concat(substr(c.name, p.i, 2), ' ') FROM {TABLE} c "
            f"JOIN {POSITIONS_TABLE} p ON p.i <= length(c.name) GROUP BY c.id"
        )
        _queue_every_core(cursor)


def _sqlite_create(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            f"name, content='{TABLE}', content_rowid='id', tokenize='trigram', columnsize=0)"
        )
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {GRAMS_TABLE} USING fts5(grams, content='', "
            "tokenize='unicode61 remove_diacritics 0', columnsize=0, detail=none)"
        )
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {POSITIONS_TABLE} (i integer PRIMARY KEY)")
        cursor.execute(
            f"INSERT OR IGNORE INTO {POSITIONS_TABLE}(i) VALUES "
            + ", ".join(f"({i})" for i in range(1, MAX_NAME + 1))
        )
        _create_pinyin_table(cursor)
        _create_contact_index(cursor)
        for name, body in TRIGGERS.items():
            cursor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
    _sqlite_rebuild(connection)


def _sqlite_drop_triggers(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def _sqlite_drop(connection: BaseDatabaseWrapper) -> None:
    _sqlite_drop_triggers(connection)
    with connection.cursor() as cursor:
        for table in (FTS_TABLE, GRAMS_TABLE, POSITIONS_TABLE, PINYIN_TABLE):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"DROP INDEX IF EXISTS {CONTACT_INDEX}")


# The grams of a name: at each position its character and the pair starting there (the last
# position's "pair" is its character again), lower-cased. A set: the GIN index keeps each gram
# once and the search asks ``@>``, so order and repeats do not matter. A PL/pgSQL loop, not a
# SQL query over ``generate_series``: the index computes it for every name written, and a SQL
# function with a ``FROM`` cannot be inlined, so each call started a query executor (about
# twice the time). Migration 0022 has the earlier definition, which gives the same sets.
POSTGRESQL_GRAMS = f"""
CREATE OR REPLACE FUNCTION {GRAMS_FUNCTION}(name text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  grams text[] := '{{}}';
BEGIN
  FOR i IN 1..char_length(name) LOOP
    grams := grams || lower(substr(name, i, 1)) || lower(substr(name, i, 2));
  END LOOP;
  RETURN grams;
END
$$
"""
# Both keepers stand aside while ``UPKEEP_SETTING`` is ``off`` in the transaction
# (``search_upkeep_off``: a preview, rolled back, whose rows nobody searches).
_UPKEEP_OFF = f"IF current_setting('{UPKEEP_SETTING}', true) = 'off' THEN RETURN NULL; END IF;"
# The pinyin queue's keeper: an insert's new cores set-based (a statement's transition table:
# a ``COPY`` of 2,000 rows is one ``INSERT … SELECT``, not 2,000 trigger calls), a changed
# ``name_key`` one row.
POSTGRESQL_QUEUE = f"""
CREATE OR REPLACE FUNCTION {QUEUE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {_UPKEEP_OFF}
  IF TG_LEVEL = 'STATEMENT' THEN
    INSERT INTO {PINYIN_TABLE}(core) SELECT DISTINCT name_key FROM added
      WHERE name_key IS NOT NULL ON CONFLICT DO NOTHING;
  ELSIF NEW.name_key IS NOT NULL THEN
    INSERT INTO {PINYIN_TABLE}(core) VALUES (NEW.name_key) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$
"""
QUEUE_TRIGGERS = {
    f"{QUEUE_TRIGGER}_ai": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT",
    QUEUE_TRIGGER: "AFTER UPDATE OF name_key ON {table} FOR EACH ROW",
}


# The names table's keeper: one function for every trigger of ``NAMES_TRIGGERS``. Inserts and
# deletes are set-based (a statement's transition table: a ``COPY`` of 2,000 rows is one
# ``INSERT … SELECT``); a renamed customer is one row. An id met again (after a ``TRUNCATE``
# that kept the sequence, or a row already there) takes the new name.
def names_keeper(guard: str) -> str:
    """The names keeper's function; ``guard`` opens it (migration 0020's backward step
    restores it without the upkeep switch)."""
    return f"""
CREATE OR REPLACE FUNCTION {NAMES_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {guard}
  IF TG_OP = 'INSERT' THEN
    INSERT INTO {NAMES_TABLE}(rowid, name) SELECT id, name FROM added
      ON CONFLICT (rowid) DO UPDATE SET name = EXCLUDED.name;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO {NAMES_TABLE}(rowid, name) VALUES (NEW.id, NEW.name)
      ON CONFLICT (rowid) DO UPDATE SET name = EXCLUDED.name;
  ELSIF TG_OP = 'DELETE' THEN
    DELETE FROM {NAMES_TABLE} WHERE rowid IN (SELECT id FROM removed);
  ELSE
    TRUNCATE {NAMES_TABLE};
  END IF;
  RETURN NULL;
END
$$
"""


POSTGRESQL_NAMES = names_keeper(_UPKEEP_OFF)
NAMES_TRIGGERS = {
    f"{NAMES_TABLE}_ai": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT",
    f"{NAMES_TABLE}_au": "AFTER UPDATE OF name ON {table} FOR EACH ROW "
    "WHEN (OLD.name IS DISTINCT FROM NEW.name)",
    f"{NAMES_TABLE}_ad": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS removed "
    "FOR EACH STATEMENT",
    f"{NAMES_TABLE}_at": "AFTER TRUNCATE ON {table} FOR EACH STATEMENT",
}


def _postgresql_trigram(connection: BaseDatabaseWrapper) -> None:
    """The extension needs the right to create it (trusted since PostgreSQL 13: the database
    owner has it). Without it, search still works, by a sequential scan."""
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON {NAMES_TABLE} "
                "USING gin (name gin_trgm_ops)"
            )
    except Exception as error:  # the driver's error type depends on the server's answer
        log.warning("public search runs without a trigram index: %s", error)


def _postgresql_names(cursor: Any) -> None:
    """The names table with its keeper, filled from the customers it lacks; the indexes that
    lived on the customers table before it (migration 0019) are dropped."""
    execute = cursor.execute
    # Never scanned in parallel: search walks it newest first for a page (``LIMIT``), and
    # parallel workers each walked a share of it, 10–15× the rows (龙 at 1M: 207 ms, not 14)
    execute(
        f"CREATE TABLE IF NOT EXISTS {NAMES_TABLE} "
        f"(rowid bigint PRIMARY KEY, name varchar({MAX_NAME}) NOT NULL) "
        "WITH (parallel_workers = 0)"
    )
    execute(POSTGRESQL_NAMES)
    for name, event in NAMES_TRIGGERS.items():
        execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
        execute(
            f"CREATE TRIGGER {name} {event.format(table=TABLE)} EXECUTE FUNCTION {NAMES_FUNCTION}()"
        )
    execute(
        f"INSERT INTO {NAMES_TABLE}(rowid, name) SELECT c.id, c.name FROM {TABLE} c "
        f"WHERE NOT EXISTS (SELECT 1 FROM {NAMES_TABLE} n WHERE n.rowid = c.id)"
    )
    execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname IN (%s, %s)",
        [TABLE, TRGM_INDEX, GRAMS_INDEX],
    )
    for (index,) in cursor.fetchall():  # on the customers table (before migration 0019)
        execute(f"DROP INDEX {index}")


def postgresql_queue_triggers(cursor: Any) -> None:
    """The pinyin queue's keeper and its triggers (``QUEUE_TRIGGERS``), in place of any
    earlier ones (migration 0020: one row trigger for inserts and updates before it)."""
    cursor.execute(POSTGRESQL_QUEUE)
    for name, event in QUEUE_TRIGGERS.items():
        cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
        cursor.execute(
            f"CREATE TRIGGER {name} {event.format(table=TABLE)} EXECUTE FUNCTION {QUEUE_FUNCTION}()"
        )


def postgresql_upkeep(connection: BaseDatabaseWrapper) -> None:
    """The names table's keeper and the pinyin queue's, as this module writes them now
    (migration 0020)."""
    with connection.cursor() as cursor:
        cursor.execute(POSTGRESQL_NAMES)
        postgresql_queue_triggers(cursor)


def _postgresql_create(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        _postgresql_names(cursor)
    _postgresql_trigram(connection)
    with connection.cursor() as cursor:
        cursor.execute(POSTGRESQL_GRAMS)
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {GRAMS_INDEX} ON {NAMES_TABLE} "
            f"USING gin ({GRAMS_FUNCTION}(name))"
        )
        _create_pinyin_table(cursor)
        _create_contact_index(cursor)
        postgresql_queue_triggers(cursor)
        _queue_every_core(cursor)


def _postgresql_drop_names(cursor: Any) -> None:
    for name in NAMES_TRIGGERS:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
    cursor.execute(f"DROP FUNCTION IF EXISTS {NAMES_FUNCTION}()")
    cursor.execute(f"DROP TABLE IF EXISTS {NAMES_TABLE}")  # with its two indexes


def _postgresql_drop(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name in QUEUE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {QUEUE_FUNCTION}()")
        cursor.execute(f"DROP TABLE IF EXISTS {PINYIN_TABLE}")
        cursor.execute(f"DROP INDEX IF EXISTS {CONTACT_INDEX}")
        _postgresql_drop_names(cursor)
        cursor.execute(f"DROP INDEX IF EXISTS {GRAMS_INDEX}")  # before 0019: on customers
        cursor.execute(f"DROP FUNCTION IF EXISTS {GRAMS_FUNCTION}(text)")
        cursor.execute(f"DROP INDEX IF EXISTS {TRGM_INDEX}")


def postgresql_names_on_customers(connection: BaseDatabaseWrapper) -> None:
    """Undo the names table (migration 0019 backwards): both indexes back on the customers
    table, as before it."""
    with connection.cursor() as cursor:
        _postgresql_drop_names(cursor)
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute(f"CREATE INDEX {TRGM_INDEX} ON {TABLE} USING gin (name gin_trgm_ops)")
        cursor.execute(f"CREATE INDEX {GRAMS_INDEX} ON {TABLE} USING gin ({GRAMS_FUNCTION}(name))")


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
            "WHERE name IN (%s, %s, %s) OR (type = 'trigger' AND tbl_name = %s)",
            [FTS_TABLE, GRAMS_TABLE, PINYIN_TABLE, TABLE],
        )
        present = {row[0] for row in cursor.fetchall()}
    return {FTS_TABLE, GRAMS_TABLE, PINYIN_TABLE} <= present and set(TRIGGERS) <= present


def ensure_search_index(connection: BaseDatabaseWrapper) -> bool:
    """Create what is missing; ``True`` when something had to be (re)built."""
    if connection.vendor != "sqlite" or sqlite_index_is_complete(connection):
        return False
    log.warning("rebuilding the search indexes (their triggers were missing)")
    _sqlite_create(connection)
    return True


def fill_pinyin(connection: BaseDatabaseWrapper, *, limit: int | None = None) -> int:
    """Compute the pinyin of queued core names (all of them, or at most ``limit``), a batch
    per statement; returns how many were filled."""
    filled = 0
    while limit is None or filled < limit:
        size = PINYIN_BATCH if limit is None else min(PINYIN_BATCH, limit - filled)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT core FROM {PINYIN_TABLE} WHERE pinyin IS NULL LIMIT %s", [size])
            cores = [row[0] for row in cursor.fetchall()]
            if not cores:
                break
            cursor.executemany(
                f"UPDATE {PINYIN_TABLE} SET pinyin = %s, initials = %s WHERE core = %s",
                [(*pinyin_keys(core), core) for core in cores],
            )
        filled += len(cores)
    return filled


@contextmanager
def search_index_suspended(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """On SQLite, no per-row indexing inside the block, one rebuild after it (whatever
    happened inside, so the indexes always end complete). Elsewhere, nothing changes."""
    if connection.vendor != "sqlite":
        yield
        return
    _sqlite_drop_triggers(connection)
    try:
        yield
    finally:
        _sqlite_create(connection)


@contextmanager
def search_upkeep_off(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Inside the caller's transaction, which this rolls back: customers written in the block
    are not indexed for search (a preview, whose writes nobody ever searches: nothing on its
    path reads the search indexes, and every row it wrote is rolled back with them).

    1. PostgreSQL: ``UPKEEP_SETTING`` is ``off`` for the transaction (``set_config`` local,
       undone with the transaction or the savepoint), and the keepers return at once.
    2. SQLite: the search triggers are dropped inside the transaction; its rollback restores
       them (SQLite's schema is transactional), so no other connection ever sees them gone.
    3. On leaving, the innermost atomic block is marked for rollback, whatever happened inside:
       nothing written without its index can be committed."""
    if not connection.in_atomic_block:
        raise RuntimeError("search upkeep is only suspended inside a transaction rolled back")
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, 'off', true)", [UPKEEP_SETTING])
        elif connection.vendor == "sqlite":
            _sqlite_drop_triggers(connection)
        yield
    finally:
        transaction.set_rollback(True, using=connection.alias)
