"""The edges only adapt: ``api/`` and ``web/`` never write to the database themselves.

import-linter keeps the package layering (pyproject.toml); what it cannot see is *which* use of
a model an edge makes. This test reads every module of ``highseas.api`` and ``highseas.web``
and fails on a write through a model manager or a queryset (``objects.create``,
``filter(…).update``, ``.delete()``, ``.save()`` …) or an opened transaction: writes belong in
a domain service that takes the viewer (one door).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import highseas

SOURCE = Path(highseas.__file__).parent
EDGES = ("api", "web")
MANAGER_WRITES = {"create", "bulk_create", "get_or_create", "update_or_create", "bulk_update"}
QUERYSET_WRITES = {"update", "delete"}
QUERYSET_STEPS = {"objects", "filter", "exclude", "all", "select_for_update", "get"}
INSTANCE_WRITES = {"save", "delete"}
NOT_MODELS = {
    "cache",
    "session",
    "serializer",
    "form",
    "data",
    "self",
}  # receivers that are no model


def _chain(node: ast.expr) -> list[str]:
    """The attribute and call names a receiver is built of: ``User.objects.filter(…)`` →
    ``["User", "objects", "filter"]``."""
    names: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            names.append(node.id)
            return list(reversed(names))
        else:
            return list(reversed(names))


def _is_write(method: str, receiver: list[str]) -> bool:
    through_manager = "objects" in receiver or bool(QUERYSET_STEPS & set(receiver[1:]))
    if method in MANAGER_WRITES:
        return "objects" in receiver
    if method in QUERYSET_WRITES and through_manager:
        return True
    return (
        method in INSTANCE_WRITES
        and bool(receiver)
        and not any(part.lower().endswith(tuple(NOT_MODELS)) for part in receiver)
    )


def edge_writes(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "django.db":
            found += [(node.lineno, "transaction") for a in node.names if a.name == "transaction"]
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, receiver = node.func.attr, _chain(node.func.value)
        if _is_write(method, receiver):
            found.append((node.lineno, ".".join([*receiver, method])))
    return found


MODULES = sorted(p for edge in EDGES for p in (SOURCE / edge).rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_an_edge_module_writes_nothing_itself(path: Path) -> None:
    writes = edge_writes(ast.parse(path.read_text(encoding="utf-8")))
    assert writes == [], f"{path.relative_to(SOURCE)} writes directly: {writes}"


@pytest.mark.parametrize(
    "source",
    [
        "Token.objects.get_or_create(user=user)",
        "Customer.objects.filter(pk=1).update(owner=None)",
        "customer.save()",
        "Token.objects.filter(user=user).delete()",
        "from django.db import transaction",
    ],
)
def test_the_scanner_sees_each_kind_of_write(source: str) -> None:
    assert edge_writes(ast.parse(source)) != []
