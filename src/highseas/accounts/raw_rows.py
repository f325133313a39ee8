"""Model instances from rows read with plain SQL, converted exactly as the ORM converts them.

The hot paths (token sign-in, the claim and its answer) read a whole row in the statement they
already run. Building the instance through a queryset would compile the query again and
instantiate through the generic iterator; this builds it with the same converters the ORM's
compiler applies (the backend's, then the field's ``from_db_value``), computed once per model,
field list and database vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

_M = TypeVar("_M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]


@cache
def _converters(
    model: type[Model], attnames: tuple[str, ...], vendor: str
) -> tuple[tuple[Any, tuple[Converter, ...]], ...]:
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    order = list(by_attname)
    positions = [order.index(name) for name in attnames]
    assert positions == sorted(positions), "name the fields in the model's order (from_db)"
    alias = model._meta.db_table
    found = []
    for name in attnames:
        column = by_attname[name].get_col(alias)
        steps = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        found.append((column, tuple(steps)))
    return tuple(found)


def column_names(model: type[Model], alias: str, attnames: Sequence[str]) -> list[str]:
    """``alias.column`` for each field (by attname), in order, for a SELECT or RETURNING list."""
    by_attname = {field.attname: field.column for field in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    return [prefix + quote(by_attname[name]) for name in attnames]


def concrete_attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


def instance(model: type[_M], attnames: tuple[str, ...], values: Sequence[Any]) -> _M:
    """The ``model`` instance loaded from ``values`` (raw driver values of the ``attnames``
    columns, named in the model's field order); fields not named load on first use, as with
    ``only()``."""
    converted = []
    for value, (column, steps) in zip(
        values, _converters(model, attnames, connection.vendor), strict=True
    ):
        for step in steps:
            value = step(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, list(attnames), converted)
