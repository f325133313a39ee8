"""The persistent round-robin pointers (and weighted credits), one row per rule and team.

A real run takes the rows ``FOR UPDATE`` (in id order, before any rep lock) for the batch that
moves them, plans from their stored state, and writes back only what moved, each row with
compare-and-set on ``version``: two concurrent runs take turns on the rows, and the second
plans from where the first left the pointer. On SQLite the write transaction serializes the
runs the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.strategies import CursorState
from highseas.routing.models import RoutingCursor

Key = tuple[int, int]


def _matching(keys: list[Key]) -> Q:
    query = Q(pk__in=[])
    for rule_id, team_id in keys:
        query |= Q(rule_id=rule_id, team_id=team_id)
    return query


def ensure(keys: Iterable[Key]) -> None:
    """Create the missing rows (a lock on no row would protect nothing)."""
    wanted = sorted(set(keys))
    if not wanted:
        return
    present = set(RoutingCursor.objects.filter(_matching(wanted)).values_list("rule_id", "team_id"))
    missing = [key for key in wanted if key not in present]
    RoutingCursor.objects.bulk_create(
        [RoutingCursor(rule_id=rule, team_id=team) for rule, team in missing],
        ignore_conflicts=True,
    )


def lock(keys: Iterable[Key]) -> dict[Key, RoutingCursor]:
    """The rows of ``keys``, locked until the end of the transaction."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = RoutingCursor.objects.select_for_update().filter(_matching(wanted)).order_by("pk")
    return {(row.rule_id, row.team_id): row for row in rows}


def read(keys: Iterable[Key]) -> dict[Key, CursorState]:
    """The stored states, unlocked (a preview reads them once)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = RoutingCursor.objects.filter(_matching(wanted))
    return {(row.rule_id, row.team_id): copy.deepcopy(row.state) for row in rows}


def states(rows: dict[Key, RoutingCursor]) -> dict[Key, CursorState]:
    return {key: copy.deepcopy(row.state) for key, row in rows.items()}


def save(rows: dict[Key, RoutingCursor], moved: dict[Key, CursorState]) -> None:
    """Write back the states that moved, each with compare-and-set on its version."""
    for key, state in moved.items():
        row = rows[key]
        written = RoutingCursor.objects.filter(pk=row.pk, version=row.version).update(
            state=state, version=row.version + 1, updated_at=timezone.now()
        )
        if written != 1:
            raise HighSeasError(
                ErrorCode.STATE_CONFLICT,
                _("A round-robin pointer changed under a run that held its lock."),
                rule=key[0],
                team=key[1],
            )
        row.state, row.version = copy.deepcopy(state), row.version + 1
