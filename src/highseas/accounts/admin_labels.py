"""Admin columns and read-only fields with translated labels, for log models whose fields
carry no verbose name (the ledger, claim requests, routing decisions): the admin would
otherwise title them with the bare field name ("Kind", "以 kind") in every language.

``labelled(labels)`` gives a ``ModelAdmin`` one display method per field, named
``<field>_shown``, titled with the label (choices shown by their label, ordering by the
field); list them in ``list_display`` / ``fields`` / ``readonly_fields``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.contrib import admin
from django.utils.functional import Promise

AdminClass = TypeVar("AdminClass", bound=type)


def shown(name: str) -> str:
    return f"{name}_shown"


def _display(name: str, label: Any) -> Callable[[Any, Any], Any]:
    def show(self: Any, obj: Any) -> Any:
        choice = getattr(obj, f"get_{name}_display", None)
        value = choice() if callable(choice) else getattr(obj, name)
        return "-" if value is None or value == "" else value

    show.__name__ = shown(name)
    return admin.display(show, description=label, ordering=name)


def labelled(labels: Mapping[str, Promise]) -> Callable[[AdminClass], AdminClass]:
    def decorate(cls: AdminClass) -> AdminClass:
        for name, label in labels.items():
            setattr(cls, shown(name), _display(name, label))
        return cls

    return decorate


class TitledChoicesFilter(admin.ChoicesFieldListFilter):
    """A choices filter titled by ``title_label`` (set by ``titled``) instead of the field's
    bare name."""

    title_label: Any = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = self.title_label


def titled(label: Promise) -> type[TitledChoicesFilter]:
    return type("TitledFilter", (TitledChoicesFilter,), {"title_label": label})
