"""Model instances from rows read with plain SQL, converted exactly as the ORM converts them.

The hot paths (token sign-in, the claim and its answer) read a whole row in the statement they
already run. Building the instance through a queryset would compile the query again and
instantiate through the generic iterator; this builds it with the same converters the ORM's
compiler applies (the backend's, then the field's ``from_db_value``), computed once per model,
field list and database vendor, and only for the fields that have any; then it stores the
values as ``Model.from_db`` would, without the generic ``__init__`` when nothing can tell the
difference (``_loaded``). ``tests/integration/test_raw_rows.py`` holds both to ``from_db``.

``lazy_instance`` defers the conversion of the fields that need one (times, JSON, encrypted
contact fields) until one of them is first read (``load_unconverted``, called by the model's
``refresh_from_db``): an answer most readers only ask its id, owner and pool of (a claim)
neither parses its times nor decrypts its phones unless someone reads them, and whoever reads
one gets exactly what the eager conversion gives, from the same row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

_M = TypeVar("_M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]


@cache
def _converters(
    model: type[Model], attnames: tuple[str, ...], vendor: str
) -> tuple[tuple[int, Any, tuple[Converter, ...]], ...]:
    """(position, column, converters) of each named field that has converters."""
    _require_model_order(model, attnames)
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    alias = model._meta.db_table
    found = []
    for at, name in enumerate(attnames):
        column = by_attname[name].get_col(alias)
        steps = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if steps:
            found.append((at, column, tuple(steps)))
    return tuple(found)


def column_names(model: type[Model], alias: str, attnames: Sequence[str]) -> list[str]:
    """``alias.column`` for each field (by attname), in order, for a SELECT or RETURNING list."""
    by_attname = {field.attname: field.column for field in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    return [prefix + quote(by_attname[name]) for name in attnames]


def concrete_attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


def _convert(model: type[Model], attnames: tuple[str, ...], values: Sequence[Any]) -> list[Any]:
    if len(values) != len(attnames):
        raise ValueError(f"{len(values)} values for {len(attnames)} fields")
    db = connections[DEFAULT_DB_ALIAS]  # what ``connection`` stands for, looked up once
    converted = list(values)
    for at, column, steps in _converters(model, attnames, db.vendor):
        value = converted[at]
        for step in steps:
            value = step(value, column, db)
        converted[at] = value
    return converted


def _build(model: type[_M], attnames: tuple[str, ...], values: list[Any]) -> _M:
    if model.__init__ is not Model.__init__ or pre_init.receivers or post_init.receivers:
        return model.from_db(DEFAULT_DB_ALIAS, list(attnames), values)
    return _loaded(model, attnames, values)


def instance(model: type[_M], attnames: tuple[str, ...], values: Sequence[Any]) -> _M:
    """The ``model`` instance loaded from ``values`` (raw driver values of the ``attnames``
    columns, named in the model's field order); fields not named load on first use, as with
    ``only()``."""
    return _build(model, attnames, _convert(model, attnames, values))


def loaded(model: type[_M], attnames: tuple[str, ...], values: Sequence[Any]) -> _M:
    """The ``model`` instance of ``values`` already as Python has them (not the driver's: no
    conversion), the ``attnames`` in the model's field order; what ``model.from_db`` builds
    of them, the fields not named loading on first use."""
    if len(values) != len(attnames):
        raise ValueError(f"{len(values)} values for {len(attnames)} fields")
    _require_model_order(model, attnames)
    return _build(model, attnames, list(values))


@cache
def _require_model_order(model: type[Model], attnames: tuple[str, ...]) -> None:
    """``from_db`` places positional values by the model's field order, ``_loaded`` by name:
    names out of that order would load differently with a listener than without one."""
    order = {f.attname: at for at, f in enumerate(model._meta.concrete_fields)}
    positions = [order[name] for name in attnames]
    if positions != sorted(positions):
        raise ValueError(f"name the fields of {model.__name__} in the model's order")


UNCONVERTED = "_unconverted_row"  # where a lazy instance keeps its fields' raw values


@cache
def _split(
    model: type[Model], attnames: tuple[str, ...], vendor: str
) -> tuple[tuple[int, ...], tuple[str, ...], tuple[int, ...], tuple[str, ...]]:
    """The positions and names of the fields that need no conversion, then of the others."""
    needs = {at for at, _column, _steps in _converters(model, attnames, vendor)}
    plain = tuple(i for i in range(len(attnames)) if i not in needs)
    later = tuple(sorted(needs))
    return plain, tuple(attnames[i] for i in plain), later, tuple(attnames[i] for i in later)


def lazy_instance(model: type[_M], attnames: tuple[str, ...], values: Sequence[Any]) -> _M:
    """``instance``, with the fields that need a conversion converted only when one of them is
    first read, all at once (the model's ``refresh_from_db`` calls ``load_unconverted``)."""
    if len(values) != len(attnames):
        raise ValueError(f"{len(values)} values for {len(attnames)} fields")
    plain, plain_names, later, later_names = _split(model, attnames, connection.vendor)
    obj = _build(model, plain_names, [values[i] for i in plain])
    if later:
        obj.__dict__[UNCONVERTED] = (later_names, tuple(values[i] for i in later))
    return obj


def load_unconverted(obj: Model, fields: Iterable[str] | None) -> bool:
    """Convert the raw values a ``lazy_instance`` kept, when ``fields`` is one of them not read
    yet (how Django loads a deferred field); ``True`` when that answered the read. Any other
    reload (every field, several, one already read) drops them and goes to the database."""
    pending = obj.__dict__.pop(UNCONVERTED, None)
    if pending is None:
        return False
    names, values = pending
    wanted = list(fields) if fields is not None else []
    if len(wanted) != 1 or wanted[0] not in names or wanted[0] in obj.__dict__:
        return False
    for name, value in zip(names, _convert(type(obj), names, values), strict=True):
        if name not in obj.__dict__:  # a field assigned since keeps its new value
            setattr(obj, name, value)
    return True


def _loaded(model: type[_M], attnames: tuple[str, ...], values: list[Any]) -> _M:
    """What ``model.from_db`` builds, without its generic ``__init__``.

    For a model that keeps Django's ``Model.__init__`` and while no ``pre_init`` or
    ``post_init`` receiver is connected, ``from_db`` (positional values, a field not named
    left deferred) does exactly this: a fresh ``ModelState`` marked loaded from the database,
    and each named value stored under its attname. The only data descriptor on an attname,
    a foreign key's, stores the value in the instance's ``__dict__`` too (it would first drop a
    cached related object, which a new instance has none of)."""
    new = model.__new__(model)
    state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS
    new.__dict__["_state"] = state
    new.__dict__.update(zip(attnames, values, strict=True))
    return new
