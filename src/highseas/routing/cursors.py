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
from functools import cache
from typing import Any

from django.db import connection
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


@cache
def _save_sql(vendor: str, rows: int) -> str:
    """One compare-and-set ``UPDATE`` of ``rows`` pointers (parameters: the time, then each
    row's id, version and new state), answering the ids it wrote."""
    quote = connection.ops.quote_name
    table = quote(RoutingCursor._meta.db_table)
    state, version = quote("state"), quote("version")
    marks = ", ".join(["(%s, %s, %s)"] * rows)
    return (
        f"UPDATE {table} SET {state} = v.column3, {version} = {table}.{version} + 1, "
        f"{quote('updated_at')} = %s FROM (VALUES {marks}) AS v "
        f"WHERE {table}.{quote('id')} = v.column1 AND {table}.{version} = v.column2 "
        f"RETURNING {table}.{quote('id')}"
    )


def save(rows: dict[Key, RoutingCursor], moved: dict[Key, CursorState]) -> None:
    """Write back the states that moved, each with compare-and-set on its version, in one
    statement."""
    if not moved:
        return
    keys = sorted(moved)
    field = RoutingCursor._meta.get_field("state")
    params: list[Any] = [connection.ops.adapt_datetimefield_value(timezone.now())]
    for key in keys:
        row = rows[key]
        params += [row.pk, row.version, connection.ops.adapt_json_value(moved[key], field.encoder)]
    with connection.cursor() as cursor:
        cursor.execute(_save_sql(connection.vendor, len(keys)), params)
        written = {found[0] for found in cursor.fetchall()}
    for key in keys:
        if rows[key].pk not in written:
            raise HighSeasError(
                ErrorCode.STATE_CONFLICT,
                _("A round-robin pointer changed under a run that held its lock."),
                rule=key[0],
                team=key[1],
            )
    for key in keys:
        row = rows[key]
        row.state, row.version = copy.deepcopy(moved[key]), row.version + 1
