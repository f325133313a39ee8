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
   The matching and ranking run in the database, on each person's search keys
   (``pools_receiver_keys``, ``" key1 key2 … "``: a key never holds a space, nor does the
   folded text, so `` text `` inside is an exact key, `` text`` a key's prefix and ``text`` a
   key containing it): one statement returns the first ``limit`` people, whoever the viewer
   sees. The keys are computed in Python (pypinyin) by ``refresh_keys`` for the people whose
   name or username changed since, which a search runs first.
3. ``receiver_choice``: one of them by id (the page's selected owner); ``None`` outside.
4. ``resolve_receiver``: the typed words of a page without JavaScript, resolved to exactly
   one person (an exact match, or the only match); ``validation_error`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.models import Role, Team, User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.pinyin import pinyin_keys
from highseas.pools.facts import HELD

PICK_LIMIT = 20
MAX_TEXT = 50
_SPACES = re.compile(r"[\s'’]+")


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
    first = [pk for pk, _match in _matching(viewer, wanted, limit=limit)]
    found = {row[0]: row for row in _rows(receivers(viewer).filter(pk__in=first))}
    return _with_holdings(found[pk] for pk in first if pk in found)


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
    ranked = _matching(viewer, wanted) if wanted else []
    exact = [pk for pk, rank in ranked if rank == 0]
    chosen = exact if exact else [pk for pk, _rank in ranked]
    if len(chosen) == 1:
        return _with_holdings(_rows(receivers(viewer).filter(pk=chosen[0])))[0]
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


def _joined(username: str, name: str) -> str:
    return f" {' '.join(_keys(username, name))} "


KEYS_TABLE = "pools_receiver_keys"


def refresh_keys() -> int:
    """Compute the search keys of the people who have none yet, or whose name or username
    changed since theirs were computed; how many. One statement when none is stale."""
    quote = connection.ops.quote_name
    users, keys = quote(User._meta.db_table), quote(KEYS_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.id, u.username, u.display_name FROM {users} u "
            f"LEFT JOIN {keys} k ON k.user_id = u.id "
            "WHERE k.user_id IS NULL OR k.username <> u.username OR k.name <> u.display_name "
            "ORDER BY u.id"  # concurrent refreshes write the same keys in the same order
        )
        stale = cursor.fetchall()
        if stale:
            cursor.executemany(
                f"INSERT INTO {keys} (user_id, username, name, keys) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, "
                "name = excluded.name, keys = excluded.keys",
                [(pk, username, name, _joined(username, name)) for pk, username, name in stale],
            )
    return len(stale)


def _matching(viewer: Viewer, wanted: str, *, limit: int | None = None) -> list[tuple[int, int]]:
    """``(id, match)`` of the people the viewer may pick whose keys match ``wanted`` (folded,
    non-empty), best match first (0 exact, 1 prefix, 2 contains), then in team and name order
    (``receivers``' order); at most ``limit``. One statement, the keys joined (a correlated
    read of them for each person and each test made PostgreSQL compile the plan: 15 ms)."""
    refresh_keys()
    try:
        scope, scope_params = receivers(viewer).order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        return []
    quote = connection.ops.quote_name
    like = "LIKE %s ESCAPE '\\'" if connection.vendor == "sqlite" else "LIKE %s"
    escaped = connection.ops.prep_for_like_query(wanted)
    sql = (
        f"SELECT u.id, CASE WHEN k.keys {like} THEN 0 WHEN k.keys {like} THEN 1 ELSE 2 END AS m "
        f"FROM {quote(User._meta.db_table)} u "
        f"JOIN {quote(KEYS_TABLE)} k ON k.user_id = u.id "
        f"LEFT JOIN {quote(Team._meta.db_table)} t ON t.id = u.team_id "
        f"WHERE k.keys {like} AND u.id IN ({scope}) "
        "ORDER BY m, t.path, u.display_name, u.username"
        + (" LIMIT %s" if limit is not None else "")
    )
    params = [f"% {escaped} %", f"% {escaped}%", f"%{escaped}%", *scope_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *([limit] if limit is not None else [])])
        return [(pk, match) for pk, match in cursor.fetchall()]


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
