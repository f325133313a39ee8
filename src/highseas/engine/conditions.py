"""The JSON condition language of assignment rules (SPEC §7), validated and evaluated in pure
Python.

A tree is a leaf ``{"field": "province", "op": "in", "value": ["广东"]}`` or a node
``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``; the empty object ``{}`` matches
every customer. Fields are the customer's ``province``, ``city``, ``industry``, ``employees``,
``revenue_band``, ``source``, ``campaign``, ``level``, ``kind``, ``tags`` and custom fields as
``custom.<key>``.

Evaluation, over a mapping of the customer's fields (custom fields under ``"custom"``):

1. a missing value is ``None``; ``""``, ``[]`` and ``{}`` count as present for ``eq`` but not
   for ``exists``;
2. ``eq`` is equality of like with like: a number never equals a string, ``True`` never
   equals ``1``; ``ne`` is its negation, so a missing value is ``ne`` anything;
3. ``in`` holds when the value equals one of the list (for a list value such as ``tags``:
   when any element does); ``not_in`` is its negation;
4. ``gte``, ``lte`` and ``between`` (both ends included) hold only for numbers;
5. ``contains`` holds when a list has an element equal to the value, or a string has the
   value as a substring;
6. ``exists`` (``value`` true, the default) holds when the value is present and not blank;
   with ``value`` false it is the negation;
7. ``all([])`` holds, ``any([])`` does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

TEXT_FIELDS: Final = frozenset(
    {"province", "city", "industry", "revenue_band", "source", "campaign", "level", "kind"}
)
NUMBER_FIELDS: Final = frozenset({"employees"})
LIST_FIELDS: Final = frozenset({"tags"})
FIELDS: Final = TEXT_FIELDS | NUMBER_FIELDS | LIST_FIELDS
CUSTOM_PREFIX: Final = "custom."
CUSTOM_KEY: Final = "custom"
OPS: Final = ("eq", "ne", "in", "not_in", "gte", "lte", "between", "contains", "exists")
NODES: Final = ("all", "any", "not")
MAX_DEPTH: Final = 16
MAX_NODES: Final = 500

_OPS_BY_KIND: Final[dict[str, frozenset[str]]] = {
    "text": frozenset({"eq", "ne", "in", "not_in", "contains", "exists"}),
    "number": frozenset({"eq", "ne", "in", "not_in", "gte", "lte", "between", "exists"}),
    "list": frozenset({"in", "not_in", "contains", "exists"}),
    "custom": frozenset(OPS),
}

Fields = Mapping[str, object]
Predicate = Callable[[Fields], bool]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a tree: where (a JSON path such as ``$.all[1].value``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def field_kind(field: str) -> str | None:
    """``text``, ``number``, ``list`` or ``custom``; ``None`` for an unknown field."""
    if field in TEXT_FIELDS:
        return "text"
    if field in NUMBER_FIELDS:
        return "number"
    if field in LIST_FIELDS:
        return "list"
    if field.startswith(CUSTOM_PREFIX) and field[len(CUSTOM_PREFIX) :].strip():
        return "custom"
    return None


def is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and not math.isfinite(value))
    )


def is_scalar(value: object) -> bool:
    return isinstance(value, str | bool) or is_number(value)


# --- validation -------------------------------------------------------------------------


class _Walk:
    """The state of one validation: problems found so far and nodes seen."""

    def __init__(self, choices: Mapping[str, Iterable[str]]) -> None:
        self.problems: list[Problem] = []
        self.nodes = 0
        self.choices = {field: frozenset(values) for field, values in choices.items()}

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))


def validate(tree: object, choices: Mapping[str, Iterable[str]] | None = None) -> list[Problem]:
    """Every problem of ``tree``, each with its JSON path; an empty list means valid.

    ``choices`` optionally names the allowed values of enumerated fields (``level``,
    ``source``, …), so that a typo such as ``"level": "a"`` is caught on save."""
    walk = _Walk(choices or {})
    _check(tree, "$", 0, walk)
    if walk.nodes > MAX_NODES:
        walk.add("$", f"A condition may have at most {MAX_NODES} parts.")
    return walk.problems


def _check(tree: object, path: str, depth: int, walk: _Walk) -> None:
    walk.nodes += 1
    if depth > MAX_DEPTH:
        walk.add(path, f"Conditions may nest at most {MAX_DEPTH} levels deep.")
        return
    if not isinstance(tree, Mapping):
        walk.add(path, "Expected an object: a leaf with field/op/value, or all/any/not.")
        return
    if not tree and depth == 0:
        return
    nodes = [key for key in NODES if key in tree]
    if nodes:
        _check_node(tree, nodes, path, depth, walk)
    elif "field" in tree or "op" in tree:
        _check_leaf(tree, path, walk)
    else:
        walk.add(path, 'Expected "field"/"op"/"value", or one of "all", "any", "not".')


def _check_node(
    tree: Mapping[str, Any], nodes: list[str], path: str, depth: int, walk: _Walk
) -> None:
    extra = sorted(str(key) for key in tree if key != nodes[0])
    if len(nodes) > 1 or extra:
        walk.add(path, f'"{nodes[0]}" must be the only key here, not also {", ".join(extra)}.')
        return
    key = nodes[0]
    child = tree[key]
    if key == "not":
        _check(child, f"{path}.not", depth + 1, walk)
        return
    if not isinstance(child, list):
        walk.add(f"{path}.{key}", f'"{key}" takes a list of conditions.')
        return
    for index, item in enumerate(child):
        _check(item, f"{path}.{key}[{index}]", depth + 1, walk)


def _check_leaf(leaf: Mapping[str, Any], path: str, walk: _Walk) -> None:
    extra = sorted(str(key) for key in leaf if key not in ("field", "op", "value"))
    if extra:
        walk.add(path, f"Unknown keys: {', '.join(extra)}.")
    field, op = leaf.get("field"), leaf.get("op")
    kind = field_kind(field) if isinstance(field, str) else None
    if kind is None:
        walk.add(
            f"{path}.field",
            f"Unknown field {field!r}; use one of {', '.join(sorted(FIELDS))} or custom.<key>.",
        )
    if op not in OPS:
        walk.add(f"{path}.op", f"Unknown operator {op!r}; use one of {', '.join(OPS)}.")
        return
    if kind is None:
        return
    if op not in _OPS_BY_KIND[kind]:
        walk.add(f"{path}.op", f'"{op}" does not apply to {field}.')
        return
    if "value" not in leaf and op != "exists":
        walk.add(f"{path}.value", f'"{op}" needs a value.')
        return
    message = _value_problem(str(op), kind, leaf.get("value", True), walk.choices.get(str(field)))
    if message:
        walk.add(f"{path}.value", message)


def _value_problem(op: str, kind: str, value: object, allowed: frozenset[str] | None) -> str:
    """What is wrong with a leaf's value, or ``""``."""
    if op == "exists":
        return "" if isinstance(value, bool) else '"exists" takes true or false.'
    if op in ("gte", "lte"):
        return "" if is_number(value) else f'"{op}" takes a number.'
    if op == "between":
        return _between_problem(value)
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            return f'"{op}" takes a non-empty list.'
        return next((p for p in (_scalar_problem(kind, v, allowed) for v in value) if p), "")
    if op == "contains":
        return "" if isinstance(value, str) and value else '"contains" takes a non-empty text.'
    return _scalar_problem(kind, value, allowed)


def _between_problem(value: object) -> str:
    if not (isinstance(value, list) and len(value) == 2 and all(is_number(v) for v in value)):
        return '"between" takes two numbers [low, high].'
    low, high = value
    return "" if low <= high else '"between" needs low <= high.'


def _scalar_problem(kind: str, value: object, allowed: frozenset[str] | None) -> str:
    if kind == "number":
        return "" if is_number(value) else "Expected a number."
    if kind == "custom":
        return "" if is_scalar(value) else "Expected a text, a number or true/false."
    if not isinstance(value, str):
        return "Expected a text."
    if allowed is not None and value not in allowed:
        return f"Unknown value {value!r}; use one of {', '.join(sorted(allowed))}."
    return ""


# --- evaluation ---------------------------------------------------------------------------


def evaluate(tree: Mapping[str, Any], customer_fields: Fields) -> bool:
    """Whether the customer matches a valid ``tree`` (see the module's rules)."""
    return predicate(tree)(customer_fields)


def predicate(tree: Mapping[str, Any]) -> Predicate:
    """Compile a valid tree once into a function of the customer's fields: what the planner
    uses to test thousands of customers against the same rule."""
    if not tree:
        return _always
    if "all" in tree:
        return _all([predicate(child) for child in tree["all"]])
    if "any" in tree:
        return _any([predicate(child) for child in tree["any"]])
    if "not" in tree:
        inner = predicate(tree["not"])
        return lambda fields: not inner(fields)
    return _leaf(str(tree["field"]), str(tree["op"]), tree.get("value", True))


def _always(fields: Fields) -> bool:
    return True


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]

    def test(fields: Fields) -> bool:
        return all(part(fields) for part in parts)

    return test


def _any(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]

    def test(fields: Fields) -> bool:
        return any(part(fields) for part in parts)

    return test


def value_of(fields: Fields, field: str) -> object:
    """The customer's value of a field, ``None`` when missing; ``custom.<key>`` reads the
    ``"custom"`` mapping (or a flat ``"custom.<key>"`` entry)."""
    if field in fields:
        return fields[field]
    if field.startswith(CUSTOM_PREFIX):
        custom = fields.get(CUSTOM_KEY)
        if isinstance(custom, Mapping):
            return custom.get(field[len(CUSTOM_PREFIX) :])
    return None


def same(actual: object, expected: object) -> bool:
    """Equality of like with like (rule 2)."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if is_number(actual) and is_number(expected):
        return actual == expected
    return isinstance(actual, str) and isinstance(expected, str) and actual == expected


def is_present(value: object) -> bool:
    return value is not None and value not in ("", [], {})


def _equals(value: object) -> Callable[[object], bool]:
    """``same(actual, value)``, specialized once for the value's type."""
    if isinstance(value, str):
        return lambda actual: actual == value  # only a text equals a text
    if isinstance(value, bool):
        return lambda actual: actual is value
    return lambda actual: actual == value and actual is not True and actual is not False


def _member(values: Sequence[object]) -> Callable[[object], bool]:
    """Rule 3: the value (or, for a list, any element) equals one of ``values``."""
    texts = frozenset(v for v in values if isinstance(v, str))
    others = [_equals(v) for v in values if not isinstance(v, str)]

    def one(actual: object) -> bool:
        if type(actual) is str:
            return actual in texts
        return any(test(actual) for test in others)

    def member(actual: object) -> bool:
        if type(actual) is list:
            return any(one(item) for item in actual)
        return one(actual)

    return member


def _contains(value: object) -> Callable[[object], bool]:
    def contains(actual: object) -> bool:
        if type(actual) is list:
            return any(same(item, value) for item in actual)
        return isinstance(actual, str) and isinstance(value, str) and value in actual

    return contains


def _compare(op: str, value: Any) -> Callable[[object], bool]:
    if op == "gte":
        return lambda actual: is_number(actual) and actual >= value
    if op == "lte":
        return lambda actual: is_number(actual) and actual <= value
    low, high = value
    return lambda actual: is_number(actual) and low <= actual <= high


def _test(op: str, value: Any) -> Callable[[object], bool]:
    """The test one operator applies to the customer's value."""
    if op in ("eq", "ne"):
        positive = _equals(value)
    elif op in ("in", "not_in"):
        positive = _member(value)
    elif op == "contains":
        return _contains(value)
    elif op == "exists":
        wanted = bool(value)
        return lambda actual: is_present(actual) is wanted
    else:
        return _compare(op, value)
    if op in ("ne", "not_in"):
        return lambda actual: not positive(actual)
    return positive


def _leaf(field: str, op: str, value: Any) -> Predicate:
    test = _test(op, value)
    if field in FIELDS:
        return lambda fields: test(fields.get(field))
    return lambda fields: test(value_of(fields, field))
