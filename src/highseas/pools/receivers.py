"""Whom a manager gives customers to or filters the console by (选择负责人), and the
type-ahead search over them.

1. ``receivers(viewer)``: the active people the viewer sees (``Viewer.users``), admins
   excepted: the rule of the console's rep lists. Forms validate a chosen owner against it,
   so an owner outside the viewer's scope is refused as an invalid choice.
2. ``find_receivers(viewer, text)``: managers and admins only (``permission_denied``
   otherwise); at most ``PICK_LIMIT`` of those people whose name, username, or the name's
   pinyin or initials match ``text`` (exact, then prefix, then contains; then team and name),
   each with what they hold, counted for the shown people only on the ``(owner, status)``
   index. An empty ``text`` gives the first people in team and name order.
3. ``receiver_choice``: one of them by id (the page's selected owner); ``None`` outside.
4. ``resolve_receiver``: the typed words of a page without JavaScript, resolved to exactly
   one person (an exact match, or the only match); ``validation_error`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.models import Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.pinyin import pinyin_keys
from highseas.pools.facts import HELD

PICK_LIMIT = 20
MAX_TEXT = 50
_SPACES = re.compile(r"[\s'’]+")
_NO_MATCH = 3


@dataclass(frozen=True)
class RepChoice:
    id: int
    label: str
    username: str
    team: str
    holdings: int


def receivers(viewer: Viewer) -> QuerySet[User]:
    """The people the viewer may give customers to and filter the console by, in team and
    name order."""
    return (
        viewer.users()
        .filter(is_active=True)
        .exclude(role=Role.ADMIN)
        .select_related("team")
        .order_by("team__path", "display_name", "username")
    )


def require_picker(viewer: Viewer) -> None:
    if not viewer.is_manager_or_admin:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only a manager or an admin may pick reps.")
        )


def find_receivers(viewer: Viewer, text: str = "", *, limit: int = PICK_LIMIT) -> list[RepChoice]:
    """Up to ``limit`` people the viewer may pick, best match first, with their holdings."""
    require_picker(viewer)
    limit = max(1, min(limit, PICK_LIMIT))
    wanted = _key(text)
    if not wanted:
        return _with_holdings(_rows(receivers(viewer)[:limit]))
    ranked = sorted(
        (rank, order, row)
        for order, row in enumerate(_rows(receivers(viewer)))
        if (rank := _rank(wanted, row)) < _NO_MATCH
    )
    return _with_holdings(row for _rank_, _order, row in ranked[:limit])


def receiver_choice(viewer: Viewer, user_id: int | None) -> RepChoice | None:
    """The person with this id if the viewer may pick them, with their holdings."""
    if user_id is None:
        return None
    require_picker(viewer)
    found = _with_holdings(_rows(receivers(viewer).filter(pk=user_id)))
    return found[0] if found else None


def resolve_receiver(viewer: Viewer, text: str) -> RepChoice:
    """The one person the typed words name: an exact match of a name, username or pinyin, or
    else the only person who matches at all."""
    require_picker(viewer)
    wanted = _key(text)
    rows = _rows(receivers(viewer)) if wanted else []
    ranks = [(_rank(wanted, row), row) for row in rows]
    exact = [row for rank, row in ranks if rank == 0]
    matching = [row for rank, row in ranks if rank < _NO_MATCH]
    chosen = exact if exact else matching
    if len(chosen) == 1:
        return _with_holdings(chosen)[0]
    if not chosen:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("No rep matches “%(text)s”.") % {"text": text.strip()[:MAX_TEXT]},
            errors={"owner": ["no_match"]},
        )
    raise HighSeasError(
        ErrorCode.VALIDATION_ERROR,
        _("%(n)s reps match “%(text)s”: type more of the name.")
        % {"n": len(chosen), "text": text.strip()[:MAX_TEXT]},
        errors={"owner": ["ambiguous"]},
    )


# --- matching --------------------------------------------------------------------------

_Row = tuple[int, str, str, str]  # id, username, display name, team name


def _rows(people: QuerySet[User]) -> list[_Row]:
    return [
        (pk, username, name, team or "")
        for pk, username, name, team in people.values_list(
            "pk", "username", "display_name", "team__name"
        )
    ]


def _key(text: str) -> str:
    return _SPACES.sub("", text[:MAX_TEXT].casefold())


@lru_cache(maxsize=1 << 14)
def _keys(username: str, name: str) -> tuple[str, ...]:
    """What a person is found by: the label and username folded, the name's pinyin and
    initials (``engine.pinyin``, cached: the same few thousand people on every keystroke)."""
    keys = {_key(name), _key(username)}
    if name and not name.isascii():
        keys.update(pinyin_keys(name))
    keys.discard("")
    return tuple(sorted(keys))


def _rank(wanted: str, row: _Row) -> int:
    """0 exact, 1 prefix, 2 contains, ``_NO_MATCH`` otherwise."""
    best = _NO_MATCH
    for key in _keys(row[1], row[2]):
        if key == wanted:
            return 0
        if key.startswith(wanted):
            best = min(best, 1)
        elif wanted in key:
            best = min(best, 2)
    return best


def _with_holdings(rows: Iterable[_Row]) -> list[RepChoice]:
    shown = list(rows)
    held = dict(
        Customer.objects.filter(owner_id__in=[row[0] for row in shown], status__in=HELD)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("*"))
        .values_list("owner_id", "n")
    )
    return [
        RepChoice(
            id=pk, label=name or username, username=username, team=team, holdings=held.get(pk, 0)
        )
        for pk, username, name, team in shown
    ]
