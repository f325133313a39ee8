"""Writing many rows (ledger events, assignment decisions) as plain values, set-based.

``bulk_create`` builds a model instance and prepares every field of every row, which costs more
than the database's own work at the scale of a backlog run; the rows written here are plain
tuples of already-adapted values, in the order of the named fields.

On PostgreSQL the rows go by ``COPY … FROM STDIN`` (one statement a batch, the values
formatted by the driver's C code). A multi-row ``VALUES`` of thousands of placeholders costs
more on the client than the server's work: Django's client-side binding splits and
interpolates the statement anew on every call (a third of an import batch's time), and the
server plans it anew. ``COPY`` returns no ids, so ``insert_instances`` takes its ids from the
table's sequence first (one statement), as many as it writes; ``reserve_ids`` takes them
before the instances are written (an import's routed rows, written once, already owned).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from enum import Enum
from functools import cache, lru_cache, partial
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.db import connection, models
from django.db.models import Model

from highseas.customers.crypto import encrypt
from highseas.customers.fields import EncryptedMixin

ROWS_PER_STATEMENT = 1_000
# values a statement (SQLite takes 32,766 since 3.32, PostgreSQL 65,535): each prepared statement
# the driver caches holds about 1 MB at this size (3.2 MB at SQLite's limit)
PARAMETERS_PER_STATEMENT = 10_000


def columns(model: type[Model], *names: str) -> tuple[str, list[str]]:
    """The model's quoted table name, and the quoted columns of the named fields."""
    quote = connection.ops.quote_name
    column_of = {field.name: field.column for field in model._meta.concrete_fields}
    return quote(model._meta.db_table), [quote(column_of[name]) for name in names]


def insert_rows(model: type[Model], fields: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """``INSERT`` every row (values in the order of ``fields``): one ``executemany`` on
    SQLite, where it is the fastest; multi-row ``VALUES`` elsewhere, since a driver's
    ``executemany`` there still runs one statement per row."""
    if not rows:
        return
    table, quoted = columns(model, *fields)
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = f"INSERT INTO {table} ({', '.join(quoted)}) VALUES "
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.executemany(head + row_marks, rows)
            return
        if connection.vendor == "postgresql":
            _copy(cursor, model, tuple(fields), rows)
            return
        insert_values(cursor, head, row_marks, rows)


def insert_values(cursor: Any, head: str, row_marks: str, rows: Sequence[Sequence[Any]]) -> None:
    """``head`` (``INSERT INTO table (columns) VALUES ``) with ``row_marks`` (``(%s, …)``,
    literals allowed) once a row, in statements of up to ``ROWS_PER_STATEMENT`` rows and
    ``PARAMETERS_PER_STATEMENT`` values. A row of another length than the marks' is refused
    (``executemany`` refused it too).

    Rows go into a table whose full-text index a trigger keeps (the customers: their names'
    words and bigrams) this way, not by SQLite's ``executemany``: one statement a row, it
    writes the index a row at a time. 20,000 rows into a table with one FTS5 trigger, in
    transactions of 2,000: 23,500 rows/s by ``executemany``, 134,700 by 500-row statements
    (with a plain trigger instead: 166,500 and 250,800)."""
    if not rows:
        return
    width = row_marks.count("%s")
    most = max(1, min(ROWS_PER_STATEMENT, PARAMETERS_PER_STATEMENT // max(1, width)))
    start = 0
    while start < len(rows):
        # full statements, then the rest in powers of two, largest first: a few texts a
        # table, so that the driver's cache of prepared statements holds a few big ones
        left = len(rows) - start
        size = most if left >= most else 1 << (left.bit_length() - 1)
        chunk = rows[start : start + size]
        if any(len(row) != width for row in chunk):
            raise ValueError(f"a row of {width} values is expected: {head}")
        cursor.execute(head + ", ".join([row_marks] * size), [v for row in chunk for v in row])
        start += size


def _copy(
    cursor: Any, model: type[Model], names: tuple[str, ...], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY table (columns) FROM STDIN`` of the rows, values in the order of the named
    fields (PostgreSQL; values adapted as for ``execute``). Row triggers fire as for an
    ``INSERT``.

    It names the columns' types (``_copy_types``), so that the driver formats each column
    with the one dumper of its type instead of looking one up for every value (a third of the
    ``COPY``'s time in the process), in PostgreSQL's binary format: a ledger row is formatted
    in 0.9 us against 2.8 us as text, and the server reads a moment without parsing its text.
    A value of another type than its column's then fails loudly (a text where a number or a
    time goes, a number where a text goes, a float where a decimal goes), except one: a
    ``jsonb`` column's dumper would write a bare text as a JSON string. So a ``jsonb`` column
    takes only psycopg's ``Jsonb`` (what ``db_json`` gives) or ``None``, checked for every
    row. When a column's type is not one psycopg knows by name, the rows go as text, each
    value adapted by its Python type."""
    table, quoted = columns(model, *names)
    types = _copy_types(model, names)
    head = f"COPY {table} ({', '.join(quoted)}) FROM STDIN"
    if types is None:
        with cursor.cursor.copy(head) as copy:
            for row in rows:
                copy.write_row(row)
        return
    with cursor.cursor.copy(head + " (FORMAT BINARY)") as copy:
        from psycopg.types.json import Jsonb

        names, json_columns = types
        copy.set_types(list(names))
        for row in rows:
            for i in json_columns:
                if (value := row[i]) is not None and type(value) is not Jsonb:
                    raise TypeError(f"{table}: a jsonb column takes Jsonb, not {type(value)}")
            copy.write_row(row)


@cache
def _copy_types(
    model: type[Model], names: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """The PostgreSQL types of the named fields' columns, as psycopg names them, and the
    positions of the ``jsonb`` ones (``_copy``); ``None`` if a column's type is not one
    psycopg knows by name, and the ``COPY`` then adapts each value by its Python type."""
    from psycopg.postgres import types as known

    field_of = {field.name: field for field in model._meta.concrete_fields}
    found = []
    for name in names:
        db_type = field_of[name].db_type(connection) or ""
        info = known.get(db_type.split("(")[0].strip())
        if info is None:
            return None
        found.append(info.name)
    return tuple(found), tuple(i for i, name in enumerate(found) if name == "jsonb")


def _next_ids(cursor: Any, model: type[Model], count: int) -> list[int]:
    """``count`` new primary keys from the table's sequence, in order (PostgreSQL)."""
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s) ORDER BY 1",
        [model._meta.db_table, model._meta.pk.column, count],
    )
    return [row[0] for row in cursor.fetchall()]


def _sqlite_next_ids(cursor: Any, model: type[Model], count: int) -> list[int]:
    """``count`` new primary keys after the highest the table ever gave (SQLite: its
    ``AUTOINCREMENT`` counter in ``sqlite_sequence``, or the highest id when it has none).
    Only sound in a transaction holding the database's write lock (``transaction_mode``
    ``IMMEDIATE``), so that no other connection can take them before they are written."""
    table, pk = model._meta.db_table, connection.ops.quote_name(model._meta.pk.column)
    cursor.execute(
        f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
        f"coalesce((SELECT max({pk}) FROM {connection.ops.quote_name(table)}), 0))",
        [table],
    )
    (last,) = cursor.fetchone()
    return list(range(last + 1, last + 1 + count))


def reserve_ids(objects: Sequence[_M]) -> None:
    """Give new model instances (built in memory, primary key unset) the ids an
    ``insert_instances`` would give them now, in order, without writing them: they are
    inserted later in the same transaction by ``insert_instances(…, reserved=True)``. On
    PostgreSQL the ids come from the table's sequence; on SQLite from the table's counter,
    which the transaction's write lock keeps for it (no other writer runs until it ends,
    and the ``INSERT`` moves the counter past them); so there, nothing else may be inserted
    into the table between the reservation and that ``INSERT``."""
    if not objects:
        return
    model = type(objects[0])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids = _next_ids(cursor, model, len(objects))
        else:  # SQLite, the other database HighSeas runs on
            if not connection.in_atomic_block:
                raise RuntimeError("ids are reserved only inside the transaction that writes them")
            ids = _sqlite_next_ids(cursor, model, len(objects))
    for obj, new_id in zip(objects, ids, strict=True):
        obj.pk = new_id


def db_datetime(moment: datetime) -> Any:
    """A moment as the connection's database takes it: on PostgreSQL the datetime itself
    (psycopg adapts it); on SQLite an aware one as the text of its UTC wall time, which is
    what Django writes, made here without Django's calls (each looks up the thread's
    connection: a claim's ``now`` is new every time), the last one kept (a batch writes its
    ``now`` on every row); anything else (a naive moment, a database with a zone of its own)
    through Django's adapter, the moments written again and again adapted once."""
    global _last_text
    form = _moment_form()
    if form is _AS_IS:
        return moment
    if form is _UTC_TEXT and moment.utcoffset() is not None:
        last = _last_text
        if moment is last[0]:
            return last[1]
        utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
        text = str(utc.replace(tzinfo=None))
        _last_text = (moment, text)  # held, so no other moment takes its id; one tuple: a
        # thread reads a whole pair
        return text
    return _adapted(connection.vendor, moment, moment.fold)


_last_text: tuple[datetime | None, str] = (None, "")
_AS_IS, _UTC_TEXT, _DJANGO = "as is", "UTC text", "Django's adapter"


@cache
def _moment_form() -> str:
    """How this process's database takes a moment (``db_datetime``), read once: its
    connection's vendor and zone are its settings'."""
    vendor = connection.vendor
    if vendor == "postgresql":  # its operations' adapt_datetimefield_value returns the value
        return _AS_IS
    if vendor == "sqlite" and settings.USE_TZ and connection.timezone == UTC:
        return _UTC_TEXT  # str(timezone.make_naive(value, connection.timezone))
    return _DJANGO


@lru_cache(maxsize=256)
def _adapted(vendor: str, moment: datetime, fold: int) -> Any:
    """Keyed by the vendor too, one database's value not being another's, and by ``fold``:
    two moments of one zone that differ only by it (the two passes of an hour a clock turns
    back) are equal to Python, not to the database."""
    return connection.ops.adapt_datetimefield_value(moment)


def db_time(moment: datetime | None) -> Any:
    return None if moment is None else db_datetime(moment)


# compact, the text as typed (a Chinese name is 3 bytes a character, not a 6-byte escape),
# without the cycle check (a value of a JSON column is a tree: the C encoder then skips
# noting every container it enters)
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)

# orjson writes that same text about 7× as fast (a routing decision's explanation: 3.0 µs
# against 20.9 µs). Whatever it does not write itself goes to the stdlib's encoder, whole, and
# comes out as before: a key that is not text, a subclass of a builtin (a ``QueryDict``, whose
# ``items`` orjson would not call; an ``Enum`` of text or numbers is written by orjson as
# by the stdlib), a datetime or a dataclass (refused, as before), an integer past 64 bits.
# What orjson writes otherwise: a float that is no number is null (the stdlib's ``NaN`` is no
# JSON: PostgreSQL refused it), and a ``UUID`` or an ``Enum`` of other values is written by
# its value (the stdlib refused them; nothing written here holds one).
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def json_bytes(value: Any) -> bytes:
    """The compact JSON text of ``value`` in UTF-8 (``_COMPACT``'s text)."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson's JSONEncodeError is one
        return _COMPACT.encode(value).encode()


def db_json(value: Any) -> Any:
    """A JSON column's value: compact text on SQLite; on PostgreSQL psycopg's ``Jsonb`` of the
    same compact text (what the ORM's adapter sends, less the escapes and spaces: ``jsonb``
    stores the parsed value, so the row is the same); the driver's JSON adapter elsewhere."""
    return json_adapter()(value)


def json_adapter() -> Callable[[Any], Any]:
    """``db_json`` for the connection's database, looked up once for a batch of values."""
    if connection.vendor == "sqlite":
        return compact_json
    if connection.vendor == "postgresql":
        return _compact_jsonb()
    return partial(connection.ops.adapt_json_value, encoder=None)


def compact_json(value: Any) -> str:
    """``json_bytes`` as text."""
    return json_bytes(value).decode()


@cache
def _compact_jsonb() -> Callable[[Any], Any]:
    """psycopg's ``Jsonb`` with the compact encoder (imported once, where PostgreSQL runs),
    whose bytes psycopg sends as they are."""
    from psycopg.types.json import Jsonb

    return partial(Jsonb, dumps=json_bytes)


# Fields whose Python value is what the driver stores (an ``Enum`` choice stored by its value);
# every other field's value goes through the field's own ``pre_save`` and ``get_db_prep_save``
# (auto_now times, encryption, JSON, datetimes), as ``bulk_create`` does.
_PLAIN_FIELDS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.PositiveIntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.BooleanField,
    models.ForeignKey,
)
_M = TypeVar("_M", bound=Model)


def _reader(field: Any) -> Callable[[Model], Any]:
    """A field outside ``_PLAIN_FIELDS``: its value as the driver stores it."""
    attname = field.attname
    # exactly a JSONField: a subclass (an encrypted one) writes through its own method
    if type(field) is models.JSONField and field.encoder is None:
        as_json = json_adapter()
        return lambda obj: as_json(obj.__dict__[attname])
    if isinstance(field, EncryptedMixin) and isinstance(field, models.CharField):
        return partial(_encrypted_text, field, attname)
    automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    # A batch shares its moments (the same ``now`` object in every row): adapt each once.
    # Only immutable dates are remembered; an encrypted value never is (its nonce is fresh).
    remembered = isinstance(field, models.DateField)
    last: list[Any] = [None, None]
    # a moment field's aware datetime (an ``auto_now``'s is new on every row): what its
    # ``get_db_prep_save`` comes to, the backend's adaptation, without the checks and
    # conversions that leave such a value as it is
    adapt_moment = (
        connection.ops.adapt_datetimefield_value if type(field) is models.DateTimeField else None
    )

    def prepared(obj: Model) -> Any:
        value = field.pre_save(obj, True) if automatic else obj.__dict__[attname]
        if value is None:
            return None
        if remembered and value is last[0]:
            return last[1]
        if adapt_moment is not None and type(value) is datetime and value.utcoffset() is not None:
            result = adapt_moment(value)
        else:
            result = field.get_db_prep_save(value, connection)
        if remembered:
            last[0], last[1] = value, result
        return result

    return prepared


def _encrypted_text(field: Any, attname: str, obj: Model) -> Any:
    """An encrypted text field's stored value: a text is what its ``get_db_prep_save``
    makes of it (the text as it is, encrypted unless empty), without that method's chain
    of calls; any other value goes through it."""
    value = obj.__dict__[attname]
    if type(value) is str:
        return encrypt(value) if value else value
    return None if value is None else field.get_db_prep_save(value, connection)


def _row_reader(fields: Sequence[Any]) -> tuple[list[Any], Callable[[Model], tuple[Any, ...]]]:
    """The fields in the order of the row, and the maker of an object's row: the plain
    fields' values taken together from its ``__dict__`` (a choice's ``Enum`` by its value),
    then each other field's prepared value (``_reader``)."""
    plain = [f for f in fields if type(f) in _PLAIN_FIELDS]
    other = [f for f in fields if type(f) not in _PLAIN_FIELDS]
    names = [f.attname for f in plain]
    readers = [_reader(f) for f in other]

    def read(obj: Model) -> tuple[Any, ...]:
        values = obj.__dict__
        return (
            *[v.value if isinstance(v := values[name], Enum) else v for name in names],
            *[prepare(obj) for prepare in readers],
        )

    return [*plain, *other], read


def insert_instances(
    objects: list[_M], *, rows_per_statement: int = 500, reserved: bool = False
) -> list[_M]:
    """``INSERT`` new model instances (built in memory, primary key unset) and set their ids:
    ``bulk_create`` without its per-field, per-row compilation, which costs more than the
    database's own work for a wide model such as the customer. Multi-row ``VALUES …
    RETURNING id`` (SQLite 3.35+, PostgreSQL), whose rows come back in insertion order, which
    ``bulk_create`` relies on too. ``reserved``: the instances carry the ids ``reserve_ids``
    gave them in this transaction, and are written with them."""
    if not objects:
        return objects
    model = type(objects[0])
    fields, read = _row_reader([f for f in model._meta.concrete_fields if not f.primary_key])
    table, quoted = columns(model, *(f.name for f in fields))
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        if reserved:
            if any(obj.pk is None for obj in objects):
                raise ValueError("reserved instances carry their ids")
        elif connection.vendor == "postgresql":  # COPY returns no ids: take them first
            for obj, new_id in zip(objects, _next_ids(cursor, model, len(objects)), strict=True):
                obj.pk = new_id
        if reserved or connection.vendor == "postgresql":
            names = (model._meta.pk.name, *(f.name for f in fields))
            _insert_with_ids(cursor, objects, names, read, rows_per_statement)
            return objects
        row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(objects), rows_per_statement):
            chunk = objects[start : start + rows_per_statement]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(quoted)}) VALUES "
                + ", ".join([row_marks] * len(chunk))
                + f" RETURNING {pk}",
                [value for obj in chunk for value in read(obj)],
            )
            for obj, (new_id,) in zip(chunk, cursor.fetchall(), strict=True):
                obj.pk = new_id
                _saved(obj)
    return objects


def _saved(obj: Model) -> None:
    """Mark an instance as a row of the database (what ``save`` leaves)."""
    obj._state.adding = False
    obj._state.db = connection.alias


def _insert_with_ids(
    cursor: Any,
    objects: Sequence[Model],
    names: tuple[str, ...],
    read: Callable[[Model], tuple[Any, ...]],
    rows_per_statement: int,
) -> None:
    """Write instances that carry their ids (the named fields: the primary key, then what
    ``read`` gives): ``COPY`` on PostgreSQL, multi-row ``INSERT`` elsewhere."""
    for obj in objects:
        _saved(obj)
    if connection.vendor == "postgresql":
        _copy(cursor, type(objects[0]), names, ((obj.pk, *read(obj)) for obj in objects))
        return
    table, quoted = columns(type(objects[0]), *names)
    values = [(obj.pk, *read(obj)) for obj in objects]
    row_marks = "(" + ", ".join(["%s"] * len(quoted)) + ")"
    for start in range(0, len(values), rows_per_statement):
        part = values[start : start + rows_per_statement]
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(quoted)}) VALUES "
            + ", ".join([row_marks] * len(part)),
            [value for row in part for value in row],
        )
