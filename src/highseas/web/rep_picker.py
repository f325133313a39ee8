"""The type-ahead rep picker (选择负责人) of the console's forms.

A page names the picked person in the ``owner`` field as before; the picker shows who is
picked and the first people in team order (``pools.receivers``), and its search box asks
``GET /api/v1/reps/?q=`` as one types (``static/highseas/rep_picker.js``). Without
JavaScript, the words typed in ``owner_q`` are resolved server-side (``typed_owner``) to
exactly one person the viewer may pick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from highseas.accounts.visibility import Viewer
from highseas.engine.errors import HighSeasError
from highseas.pools.receivers import RepChoice, receiver_choice, resolve_receiver

TYPED = "owner_q"  # the search box's name, submitted only without JavaScript


@dataclass(frozen=True)
class RepPicker:
    name: str
    field_id: str
    empty: str
    picked: RepChoice | None = None
    first: list[RepChoice] = field(default_factory=list)
    typed: str = ""
    error: str = ""

    @property
    def others(self) -> list[RepChoice]:
        """The first people, without the picked one (listed first)."""
        picked = self.picked.id if self.picked else None
        return [choice for choice in self.first if choice.id != picked]


def picker(
    viewer: Viewer,
    *,
    field_id: str,
    empty: str,
    first: list[RepChoice],
    picked: int | None = None,
    typed: str = "",
    error: str = "",
    name: str = "owner",
) -> RepPicker:
    return RepPicker(
        name=name,
        field_id=field_id,
        empty=empty,
        picked=receiver_choice(viewer, picked),
        first=first,
        typed=typed,
        error=error,
    )


def typed_owner(viewer: Viewer, data: Any) -> tuple[int | None, str]:
    """``(id, "")`` for the one person the typed words name, ``(None, why)`` when they name
    nobody or several; ``(None, "")`` when nothing was typed."""
    text = (data.get(TYPED) or "").strip()
    if not text:
        return None, ""
    try:
        return resolve_receiver(viewer, text).id, ""
    except HighSeasError as refusal:
        return None, refusal.detail
