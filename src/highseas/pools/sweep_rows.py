"""The sweep's reads as plain rows: the columns the engine's recycle schedule needs, read with
the DB-API cursor from the SQL the ORM compiles (scope, keyset, ``FOR UPDATE SKIP LOCKED``
and all), without building a model instance or running a field converter per value — at the
scale of a sweep (10,000 due customers) those cost more than the database's own work.

Times come back as aware UTC datetimes: PostgreSQL's driver returns them so; SQLite's (with
Django's type detection) returns them naive in UTC (``USE_TZ``), or as ISO text, parsed here
by the standard library's C parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from highseas.customers.models import Customer

COLUMNS = (
    *("pk", "name", "owner_id", "pool_id", "level", "stage", "owned_since"),
    *("last_effective_activity_at", "last_activity_at", "recycle_due_at"),
)
MOMENTS = frozenset({"owned_since", "last_effective_activity_at", "last_activity_at"})


@dataclass(frozen=True, slots=True)
class DueRow:
    """One owned customer as the sweep judges it."""

    pk: int
    name: str
    owner_id: int | None
    pool_id: int | None
    level: str
    stage: str
    owned_since: datetime | None
    last_effective_activity_at: datetime | None
    last_activity_at: datetime | None
    recycle_due_at: datetime | None


def moment(value: Any) -> datetime | None:
    """A datetime column's raw value as an aware datetime."""
    if value is None:
        return None
    at: datetime = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def read_rows(customers: QuerySet[Customer]) -> list[DueRow]:
    """The rows of ``customers`` (filtered, ordered, sliced, locked as the caller wants)."""
    sql, params = customers.values_list(*COLUMNS).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            DueRow(
                *(pk, name, owner_id, pool_id, level, stage),
                *(moment(since), moment(effective), moment(last), moment(due)),
            )
            for pk, name, owner_id, pool_id, level, stage, since, effective, last, due in (
                cursor.fetchall()
            )
        ]
