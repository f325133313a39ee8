"""Rule conditions as Django ``Q`` objects, so that the database narrows the backlog before the
engine decides (and explains) in Python.

A compiled condition is a *superset* of the engine's: every customer the engine would match
is in it, perhaps with a few more (the engine has the last word). ``exact`` says the two agree
row for row, which is what negating a condition needs: the negation of an inexact condition
narrows nothing. Where a database cannot express a test faithfully the compiled form narrows
nothing rather than risk losing a customer:

- ``tags`` tests use JSON containment on PostgreSQL; SQLite has none, so they narrow nothing;
- ``contains`` on text is ``LIKE``, case-insensitive on SQLite (so inexact there);
- custom fields narrow only for ``exists`` and for ``eq`` / ``in`` on text, always inexactly
  (a number stored as ``"12"`` and one stored as ``12`` read alike as text).

``None`` stands for "no narrowing" (every row), since Django folds an empty ``Q()`` away in
an ``OR`` and would turn "anything or X" into "X".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact, In

from highseas.engine.conditions import CUSTOM_PREFIX, LIST_FIELDS, NUMBER_FIELDS, TEXT_FIELDS

NOTHING = Q(pk__in=[])


@dataclass(frozen=True)
class Compiled:
    q: Q | None  # None: every row
    exact: bool


EVERYTHING = Compiled(None, True)
UNKNOWN = Compiled(None, False)


def compile_conditions(tree: Mapping[str, Any], vendor: str) -> Compiled:
    """The ``Q`` of a valid condition tree on this database vendor."""
    if not tree:
        return EVERYTHING
    if "all" in tree:
        return _all([compile_conditions(child, vendor) for child in tree["all"]])
    if "any" in tree:
        return _any([compile_conditions(child, vendor) for child in tree["any"]])
    if "not" in tree:
        return _not(compile_conditions(tree["not"], vendor))
    return _leaf(str(tree["field"]), str(tree["op"]), tree.get("value", True), vendor)


def _all(parts: list[Compiled]) -> Compiled:
    exact = all(part.exact for part in parts)
    narrowing = [part.q for part in parts if part.q is not None]
    if not narrowing:
        return Compiled(None, exact)
    combined = narrowing[0]
    for q in narrowing[1:]:
        combined &= q
    return Compiled(combined, exact)


def _any(parts: list[Compiled]) -> Compiled:
    if not parts:
        return Compiled(NOTHING, True)
    if any(part.q is None for part in parts):
        return Compiled(None, any(part.q is None and part.exact for part in parts))
    exact = all(part.exact for part in parts)
    combined = parts[0].q
    assert combined is not None
    for part in parts[1:]:
        assert part.q is not None
        combined |= part.q
    return Compiled(combined, exact)


def _not(inner: Compiled) -> Compiled:
    if not inner.exact:
        return UNKNOWN
    if inner.q is None:
        return Compiled(NOTHING, True)
    return Compiled(~inner.q, True)


def _positive(op: str, positive: Q, exact: bool = True) -> Compiled:
    """``eq``/``in`` as given; ``ne``/``not_in`` as the negation when that is faithful."""
    if op in ("ne", "not_in"):
        return Compiled(~positive, True) if exact else UNKNOWN
    return Compiled(positive, exact)


def _text(field: str, op: str, value: Any, vendor: str) -> Compiled:
    if op in ("eq", "ne"):
        return _positive(op, Q(**{field: value}))
    if op in ("in", "not_in"):
        return _positive(op, Q(**{f"{field}__in": value}))
    if op == "contains":
        return Compiled(Q(**{f"{field}__contains": value}), vendor == "postgresql")
    blank = Q(**{field: ""})
    return Compiled(~blank if value else blank, True)


def _number(field: str, op: str, value: Any) -> Compiled:
    if op in ("eq", "ne"):
        return _positive(op, Q(**{field: value}))
    if op in ("in", "not_in"):
        return _positive(op, Q(**{f"{field}__in": value}))
    if op == "between":
        return Compiled(Q(**{f"{field}__gte": value[0], f"{field}__lte": value[1]}), True)
    if op in ("gte", "lte"):
        return Compiled(Q(**{f"{field}__{op}": value}), True)
    return Compiled(Q(**{f"{field}__isnull": not value}), True)


def _tags(field: str, op: str, value: Any, vendor: str) -> Compiled:
    if vendor != "postgresql":
        return UNKNOWN
    if op == "exists":
        return Compiled(~Q(**{field: []}), False) if value else UNKNOWN
    wanted = [value] if op == "contains" else list(value)
    any_of = Q(**{f"{field}__contains": [wanted[0]]})
    for tag in wanted[1:]:
        any_of |= Q(**{f"{field}__contains": [tag]})
    return _positive(op, any_of)


def _custom(key: str, op: str, value: Any) -> Compiled:
    if op == "exists":
        return Compiled(Q(custom_fields__has_key=key), False) if value else UNKNOWN
    text = KeyTextTransform(key, "custom_fields")
    if op == "eq" and isinstance(value, str):
        return Compiled(Q(Exact(text, value)), False)
    if op == "in" and all(isinstance(v, str) for v in value):
        return Compiled(Q(In(text, list(value))), False)
    return UNKNOWN


def _leaf(field: str, op: str, value: Any, vendor: str) -> Compiled:
    if field in TEXT_FIELDS:
        return _text(field, op, value, vendor)
    if field in NUMBER_FIELDS:
        return _number(field, op, value)
    if field in LIST_FIELDS:
        return _tags(field, op, value, vendor)
    if field.startswith(CUSTOM_PREFIX):
        return _custom(field[len(CUSTOM_PREFIX) :], op, value)
    return UNKNOWN
