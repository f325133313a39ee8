"""The rule editor's condition builder: form rows ↔ the condition tree of SPEC §10.

The builder edits trees of two levels, which covers what managers write: groups joined by
"all" or "any", each group a list of conditions joined by "all" or "any", and "not" on a
condition or a whole group. A tree of another shape (deeper nesting) is edited as JSON.
Values are read from text by the field and operator ("in" takes a comma-separated list,
"between" two numbers); what the text cannot say is passed on as text, so that the one
validation, ``engine.conditions.validate`` through ``routing.rules.check_rule``, names it.

Without JavaScript every change of shape is a form post: the buttons "add a condition",
"remove", "add a group" send ``action`` and the page comes back with the rows changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from highseas.customers.choices import CustomerKind, CustomerLevel, RevenueBand, Source
from highseas.engine.conditions import CUSTOM_PREFIX, FIELDS, NUMBER_FIELDS, OPS

FIELD_LABELS: dict[str, Promise] = {
    "province": _("Province"),
    "city": _("City"),
    "industry": _("Industry"),
    "employees": _("Employees"),
    "revenue_band": _("Revenue band"),
    "source": _("Source"),
    "campaign": _("Campaign"),
    "level": _("Level"),
    "kind": pgettext_lazy("customer", "Kind"),
    "tags": _("Tags"),
    "custom": _("Custom field…"),
}
OP_LABELS: dict[str, Promise] = {
    "eq": _("equals"),
    "ne": _("does not equal"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "gte": _("at least"),
    "lte": _("at most"),
    "between": _("between"),
    "contains": _("contains"),
    "exists": _("is filled in"),
}
VALUE_CHOICES = {
    "level": CustomerLevel.choices,
    "kind": CustomerKind.choices,
    "source": Source.choices,
    "revenue_band": RevenueBand.choices,
}
LIST_OPS = ("in", "not_in")
SPLIT = re.compile(r"\s*[,，、;；]\s*")
ROW_KEY = re.compile(r"^g(\d+)-r(\d+)-field$")
GROUP_KEY = re.compile(r"^g(\d+)-combinator$")
assert set(FIELD_LABELS) - {"custom"} == FIELDS and set(OP_LABELS) == set(OPS)


@dataclass
class Row:
    field: str = ""
    custom_key: str = ""
    op: str = "eq"
    value: str = ""
    negate: bool = False
    errors: list[str] = default(default_factory=list)

    @property
    def is_blank(self) -> bool:
        return not self.field

    @property
    def field_name(self) -> str:
        if self.field == "custom":
            return f"{CUSTOM_PREFIX}{self.custom_key.strip()}"
        return self.field

    def leaf(self) -> dict[str, Any]:
        leaf = {"field": self.field_name, "op": self.op, "value": parse_value(self)}
        return {"not": leaf} if self.negate else leaf


@dataclass
class Group:
    combinator: str = "all"
    negate: bool = False
    rows: list[Row] = default(default_factory=list)
    errors: list[str] = default(default_factory=list)

    @property
    def filled(self) -> list[Row]:
        return [row for row in self.rows if not row.is_blank]


def _number(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _scalar(row: Row, text: str) -> Any:
    if row.field in NUMBER_FIELDS:
        return _number(text)
    if row.field == "custom":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        return _number(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else text
    return text


def parse_value(row: Row) -> Any:
    """The JSON value of a row's text for its operator (module docstring)."""
    text = row.value.strip()
    if row.op == "exists":
        return text.lower() not in ("false", "no", "0", "否")
    if row.op in LIST_OPS:
        return [_scalar(row, part) for part in SPLIT.split(text) if part]
    if row.op == "between":
        return [_number(part) for part in SPLIT.split(text) if part]
    if row.op in ("gte", "lte"):
        return _number(text)
    return _scalar(row, text)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(format_value(item) for item in value)
    return "" if value is None else str(value)


def _row_of(leaf: Mapping[str, Any]) -> Row | None:
    negate = False
    if set(leaf) == {"not"} and isinstance(leaf["not"], Mapping):
        negate, leaf = True, leaf["not"]
    if "field" not in leaf or not isinstance(leaf["field"], str):
        return None
    name = leaf["field"]
    custom = name.startswith(CUSTOM_PREFIX)
    return Row(
        field="custom" if custom else name,
        custom_key=name[len(CUSTOM_PREFIX) :] if custom else "",
        op=str(leaf.get("op", "eq")),
        value=format_value(leaf.get("value", True)),
        negate=negate,
    )


def _group_of(node: Mapping[str, Any]) -> Group | None:
    negate = False
    if set(node) == {"not"} and isinstance(node["not"], Mapping) and "field" not in node["not"]:
        negate, node = True, node["not"]
    if (row := _row_of(node)) is not None:
        return Group(rows=[row], negate=negate)
    key = next((k for k in ("all", "any") if k in node), None)
    if key is None or not isinstance(node[key], list):
        return None
    rows = [_row_of(child) if isinstance(child, Mapping) else None for child in node[key]]
    if any(row is None for row in rows):
        return None
    return Group(combinator=key, negate=negate, rows=[r for r in rows if r is not None])


@dataclass
class Builder:
    combinator: str = "all"
    groups: list[Group] = default(default_factory=list)
    errors: list[str] = default(default_factory=list)

    @classmethod
    def empty(cls) -> Builder:
        return cls(groups=[Group(rows=[Row()])])

    @classmethod
    def from_tree(cls, tree: Mapping[str, Any] | None) -> Builder | None:
        """The builder of a tree, or ``None`` when the builder cannot show it."""
        if not tree:
            return cls.empty()
        if (group := _group_of(tree)) is not None:
            return cls(groups=[group])
        key = next((k for k in ("all", "any") if k in tree), None)
        if key is None or not isinstance(tree[key], list):
            return None
        groups = [_group_of(child) if isinstance(child, Mapping) else None for child in tree[key]]
        if any(group is None for group in groups):
            return None
        return cls(combinator=key, groups=[g for g in groups if g is not None])

    @classmethod
    def from_post(cls, data: Mapping[str, str]) -> Builder:
        group_ids = sorted({int(m.group(1)) for key in data if (m := GROUP_KEY.match(key))})
        rows: dict[int, list[int]] = {}
        for key in data:
            if m := ROW_KEY.match(key):
                rows.setdefault(int(m.group(1)), []).append(int(m.group(2)))
        builder = cls(combinator=_either(data.get("combinator")))
        for g in group_ids:
            group = Group(
                combinator=_either(data.get(f"g{g}-combinator")),
                negate=bool(data.get(f"g{g}-negate")),
            )
            for r in sorted(rows.get(g, [])):
                prefix = f"g{g}-r{r}-"
                group.rows.append(
                    Row(
                        field=data.get(prefix + "field", ""),
                        custom_key=data.get(prefix + "custom", ""),
                        op=data.get(prefix + "op", "eq"),
                        value=data.get(prefix + "value", ""),
                        negate=bool(data.get(prefix + "negate")),
                    )
                )
            builder.groups.append(group)
        return builder

    def change(self, action: str) -> bool:
        """Apply an ``add_row:g`` / ``remove_row:g:r`` / ``add_group`` / ``remove_group:g``
        action; whether it was one."""
        verb, *args = action.split(":")
        at = [int(a) for a in args if a.isdigit()]
        if verb == "add_group":
            self.groups.append(Group(rows=[Row()]))
        elif verb == "add_row" and len(at) == 1 and at[0] < len(self.groups):
            self.groups[at[0]].rows.append(Row())
        elif verb == "remove_row" and len(at) == 2 and at[0] < len(self.groups):
            rows = self.groups[at[0]].rows
            if at[1] < len(rows):
                del rows[at[1]]
            if not rows:
                del self.groups[at[0]]
        elif verb == "remove_group" and len(at) == 1 and at[0] < len(self.groups):
            del self.groups[at[0]]
        else:
            return False
        if not self.groups:
            self.groups.append(Group(rows=[Row()]))
        return True

    def tree(self) -> tuple[dict[str, Any], dict[str, Row | Group | None]]:
        """The condition tree, and which row or group each JSON path prefix came from."""
        parts: list[tuple[dict[str, Any], list[tuple[str, Row | Group]]]] = []
        for group in self.groups:
            filled = group.filled
            if not filled:
                continue
            if len(filled) == 1 and not group.negate:
                parts.append((filled[0].leaf(), [("", filled[0])]))
                continue
            inner: dict[str, Any] = {group.combinator: [row.leaf() for row in filled]}
            origin: list[tuple[str, Row | Group]] = [
                (f".{group.combinator}[{i}]", row) for i, row in enumerate(filled)
            ]
            origin.append(("", group))
            if group.negate:
                inner = {"not": inner}
                origin = [(".not" + suffix, item) for suffix, item in origin]
            parts.append((inner, origin))
        paths: dict[str, Row | Group | None] = {}
        if not parts:
            return {}, paths
        if len(parts) == 1:
            tree, origin = parts[0]
            paths.update((f"${suffix}", item) for suffix, item in origin)
            return tree, paths
        for index, (_part, origin) in enumerate(parts):
            prefix = f"$.{self.combinator}[{index}]"
            paths.update((f"{prefix}{suffix}", item) for suffix, item in origin)
        return {self.combinator: [part for part, _origin in parts]}, paths

    def place_errors(self, problems: list[str]) -> None:
        """Put each ``"$.path: message"`` on the row or group it is about (the longest
        matching path), or on the builder."""
        _tree, paths = self.tree()
        for problem in problems:
            path, _sep, message = problem.partition(": ")
            owner = None
            for prefix in sorted(paths, key=len, reverse=True):
                if path == prefix or path.startswith(prefix + "."):
                    owner = paths[prefix]
                    break
            (owner.errors if owner is not None else self.errors).append(message or problem)


def _either(value: str | None) -> str:
    return "any" if value == "any" else "all"


def tree_from_json(text: str) -> tuple[Any, str]:
    """The tree typed as JSON, or the parse error."""
    if not text.strip():
        return {}, ""
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as error:
        return None, str(error)


def _describe_value(value: Any) -> str:
    return format_value(value) if not isinstance(value, list) else f"[{format_value(value)}]"


def describe(tree: Mapping[str, Any] | None) -> str:
    """A condition tree as one line a manager reads: labels for fields and operators."""
    if not tree:
        return str(_("every customer"))
    if "not" in tree:
        return f"{_('not')} ({describe(tree['not'])})"
    for key, word in (("all", _("and")), ("any", _("or"))):
        if key in tree:
            parts = [describe(child) for child in tree[key]]
            return f" {word} ".join(f"({p})" if " " in p and len(parts) > 1 else p for p in parts)
    name = str(tree.get("field", ""))
    label: Any = FIELD_LABELS.get(name)
    if label is None and name.startswith(CUSTOM_PREFIX):
        label = name[len(CUSTOM_PREFIX) :]
    op = str(tree.get("op", ""))
    text = f"{label or name} {OP_LABELS.get(op, op)}"
    if op == "exists":
        return text if tree.get("value", True) else f"{_('not')} ({text})"
    return f"{text} {_describe_value(tree.get('value'))}"
