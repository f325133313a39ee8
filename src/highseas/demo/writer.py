"""Bulk inserts that work the same on SQLite and PostgreSQL.

Rows are plain tuples in a declared field order, with timestamps as epoch seconds; each
column is adapted with the backend's own adapters (``connection.ops``), then the batch goes
out with one ``executemany``, or on SQLite in multi-row statements (``rows.insert_values``).
Primary keys are assigned up front, after the current maximum, so that related rows can point
at rows of the same batch without reading anything back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models
from django.db.models import Max

from highseas.demo.clock import to_datetime
from highseas.pools.rows import insert_values

Row = tuple[Any, ...]
Adapter = Callable[[Any], Any]
SQLITE_BULK_CACHE_KIB = 512 * 1024


class TableWriter:
    """INSERTs rows of ``model`` whose values come in the order of ``fields``.

    Encrypted fields (``customers.fields``) are encrypted here, in the batch loop, by the
    field itself; ``transforms`` replace the adapters of the fields they name (the blind
    duplicate keys)."""

    def __init__(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        transforms: Mapping[str, Adapter] | None = None,
    ) -> None:
        transforms = transforms or {}
        resolved = [_concrete_field(model, name) for name in fields]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in resolved)
        placeholders = ", ".join(["%s"] * len(resolved))
        self.head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "
        self.row_marks = f"({placeholders})"
        self.adapters = [
            (position, adapter)
            for position, field in enumerate(resolved)
            if (adapter := transforms.get(field.name) or _adapter_for(field)) is not None
        ]

    def write(self, rows: list[Row]) -> None:
        if not rows:
            return
        adapted = [self._adapt(row) for row in rows]
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":  # the customers' search index is kept by triggers
                insert_values(cursor, self.head, self.row_marks, adapted)
            else:
                cursor.executemany(self.head + self.row_marks, adapted)

    def _adapt(self, row: Row) -> Row:
        values = list(row)
        for position, adapter in self.adapters:
            value = values[position]
            if value is not None:
                values[position] = adapter(value)
        return tuple(values)


def _concrete_field(model: type[models.Model], name: str) -> Any:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field


def _adapter_for(field: Any) -> Adapter | None:
    ops = connection.ops
    if getattr(field, "encrypted", False):
        return lambda value: field.get_db_prep_save(value, connection)
    if isinstance(field, models.DateTimeField):
        return _datetime_adapter()
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.DecimalField):
        digits, places = field.max_digits, field.decimal_places
        return lambda amount: ops.adapt_decimalfield_value(amount, digits, places)
    if isinstance(field, models.JSONField):
        return _json_adapter(field.encoder)
    return None


def _json_adapter(encoder: Any) -> Adapter:
    """Values to the backend's JSON parameter; empty lists and objects (most of the demo's
    tags, dates and custom fields) as ready text where that is what the backend sends."""
    ops = connection.ops
    empty = {"list": ops.adapt_json_value([], encoder), "dict": ops.adapt_json_value({}, encoder)}
    if empty != {"list": "[]", "dict": "{}"}:
        return lambda value: ops.adapt_json_value(value, encoder)

    def adapt(value: Any) -> Any:
        if value == [] or value == {}:
            return "[]" if isinstance(value, list) else "{}"
        return ops.adapt_json_value(value, encoder)

    return adapt


def _datetime_adapter() -> Adapter:
    """Epoch seconds to the backend's datetime parameter.

    Where the backend stores naive UTC text (SQLite), the text is formatted directly, which
    skips building a ``datetime``; the shortcut is taken only when it gives exactly what the
    backend's own adapter gives.
    """
    ops = connection.ops

    def through_backend(moment: int) -> Any:
        return ops.adapt_datetimefield_value(to_datetime(moment))

    samples = (0, 1_767_225_599, 1_767_229_261)
    if all(through_backend(sample) == _utc_text(sample) for sample in samples):
        return _utc_text
    return through_backend


def _utc_text(moment: int) -> str:
    day, second = divmod(moment, 86_400)
    return f"{_day_text(day)} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"


@lru_cache(maxsize=8192)
def _day_text(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


def next_ids(model_classes: Sequence[type[models.Model]]) -> list[int]:
    """The first free primary key of each model: one past the largest in use."""
    return [
        (model._default_manager.aggregate(largest=Max("pk"))["largest"] or 0) + 1
        for model in model_classes
    ]


def reset_sequences(model_classes: Sequence[type[models.Model]]) -> None:
    """Move the backend's id sequences past explicitly inserted keys (PostgreSQL needs it;
    SQLite's AUTOINCREMENT follows by itself and returns no statements)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_classes))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@contextmanager
def bulk_load_settings() -> Iterator[None]:
    """On SQLite, settings for this connection while loading, put back afterwards: a large
    page cache (the demo's tables carry many indexes, and inserts are several times faster
    when their pages stay cached), temporary data in memory, and no waiting for the disk at
    each commit (``synchronous = OFF``: a demo cut short by a power failure is built again).
    Other backends are left as they are."""
    if connection.vendor != "sqlite":
        yield
        return
    settings = {"cache_size": f"-{SQLITE_BULK_CACHE_KIB}"}
    if not connection.in_atomic_block:  # SQLite refuses these inside a transaction
        settings.update(synchronous="0", temp_store="2")
    previous = {}
    with connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute(f"PRAGMA {name}")
            (previous[name],) = cursor.fetchone()
            cursor.execute(f"PRAGMA {name} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in previous.items():
                cursor.execute(f"PRAGMA {name} = {int(value)}")


@contextmanager
def secondary_indexes_suspended(model_classes: Sequence[type[models.Model]]) -> Iterator[None]:
    """On SQLite, the tables' secondary indexes dropped while a large load runs and built
    again from their own definitions afterwards (also when the load fails): one sorted
    build per index instead of an index update per row. Indexes behind a uniqueness
    constraint stay (SQLite keeps no definition of them, and they guard the data). Other
    backends are left as they are."""
    if connection.vendor != "sqlite":
        yield
        return
    tables = [model._meta.db_table for model in model_classes]
    marks = ", ".join(["%s"] * len(tables))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks}) AND sql NOT LIKE 'CREATE UNIQUE%%' ORDER BY name",
            tables,
        )
        dropped = cursor.fetchall()
        for name, _sql in dropped:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _name, sql in dropped:
                cursor.execute(sql)
