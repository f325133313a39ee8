"""Facts the ownership rules need, read inside the transaction after the rep's lock is held.

Every service that can add to a rep's holdings or claims first calls ``lock_reps``; on
PostgreSQL that is ``SELECT … FOR UPDATE`` on the reps' profile rows, taken in id order so
two transactions never wait on each other in a cycle. On SQLite the transaction itself is
``BEGIN IMMEDIATE``, which already serializes writers. Either way, the counts below cannot
change between being read and the write that depends on them.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from highseas.accounts.models import RepProfile, Team, User
from highseas.customers.choices import CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.ownership import EventKind
from highseas.engine.periods import day_start, week_start
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.rows import db_datetime

HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)
LOSSES = (EventKind.RELEASED.value, EventKind.RECYCLED.value)


_READ_ONLY_REPS: ContextVar[bool] = ContextVar("highseas_read_only_reps", default=False)


@contextmanager
def reps_read_not_locked() -> Iterator[None]:
    """Within it, ``lock_reps`` and ``lock_rep_rows`` read the reps' rows without locking
    them, and answer as if they had: for a transaction rolled back whatever happens (an
    import's preview), which plans like the commit but may run for a minute, and a claim by
    any rep its rules reach would wait on it all that time. What it reads is a prediction;
    the commit takes the locks."""
    token = _READ_ONLY_REPS.set(True)
    try:
        yield
    finally:
        _READ_ONLY_REPS.reset(token)


def reps_read_only() -> bool:
    """Whether the reps are read, not locked (``reps_read_not_locked``)."""
    return _READ_ONLY_REPS.get()


def lock_reps(*user_ids: int) -> dict[int, RepProfile]:
    """Lock the reps' profile rows in id order (each with its user, not locked); create any
    missing profile first, since a lock on no row would protect nothing. An id with no user
    (deleted meanwhile) gets no profile and is not among the answer."""
    ids = sorted(set(user_ids))
    profiles = RepProfile.objects.select_related("user")
    if not reps_read_only():
        profiles = profiles.select_for_update(of=("self",))
    locked = {p.user_id: p for p in profiles.filter(user_id__in=ids).order_by("user_id")}
    if _create_missing(ids, locked):
        locked = {p.user_id: p for p in profiles.filter(user_id__in=ids).order_by("user_id")}
    return locked


def lock_rep_rows(user_ids: list[int]) -> frozenset[int]:
    """Lock the reps' profile rows in id order, reading nothing else, where the database has
    row locks (a SQLite write transaction already excludes every other writer), and answer
    whose rows are locked (nobody's without row locks). A rep without a profile yet gets one
    first, as in ``lock_reps``: a lock on no row protects nothing, and a profile made
    meanwhile by someone else would be locked later, after the caller's customers — the one
    order no writer may take."""
    if not user_ids or not connection.features.has_select_for_update:
        return frozenset()
    ids = sorted(set(user_ids))
    locked = _lock_profile_rows(ids)
    if _create_missing(ids, locked):
        locked = _lock_profile_rows(ids)
    return locked


def _create_missing(ids: list[int], found: Container[int]) -> bool:
    """Create the profiles of the users among ``ids`` that have none in ``found`` (an id with
    no user behind it gets none); whether any was missing, so the caller locks again."""
    missing = [user_id for user_id in ids if user_id not in found]
    if missing:
        users = User.objects.filter(pk__in=missing).values_list("pk", flat=True)
        RepProfile.objects.bulk_create(
            [RepProfile(user_id=user_id) for user_id in users], ignore_conflicts=True
        )
    return bool(missing)


def _lock_profile_rows(ids: list[int]) -> frozenset[int]:
    profiles = RepProfile.objects.filter(user_id__in=ids)
    if not reps_read_only():
        profiles = profiles.select_for_update()
    return frozenset(profiles.order_by("user_id").values_list("user_id", flat=True))


def holdings(user_id: int, *, count_won: bool) -> int:
    held = Customer.objects.filter(owner_id=user_id, status__in=HELD)
    if not count_won:
        held = held.exclude(stage=CustomerStage.WON)
    return held.count()


def holdings_of(user_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(open, won) customers each rep holds, over every pool, in one grouped count."""
    rows = (
        Customer.objects.filter(owner_id__in=user_ids, status__in=HELD)
        .values("owner_id")
        .annotate(won=Count("id", filter=Q(stage=CustomerStage.WON)), total=Count("id"))
        .order_by()
    )
    return {row["owner_id"]: (row["total"] - row["won"], row["won"]) for row in rows}


def assigned_on(user_ids: list[int], now: datetime) -> dict[int, int]:
    """Customers each rep was given on the calendar day of ``now`` (by any rule or manager),
    in one grouped count."""
    start = day_start(now, timezone.get_default_timezone())
    rows = (
        OwnershipEvent.objects.filter(
            to_owner_id__in=user_ids,
            kind=EventKind.ASSIGNED.value,
            at__gte=start,
            at__lt=start + timedelta(days=1),
        )
        .values("to_owner_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["to_owner_id"]: row["n"] for row in rows}


def on_leave(profile: RepProfile, today: date) -> bool:
    return leave_covers(profile.leave_from, profile.leave_until, today)


def leave_covers(start: date | None, end: date | None, today: date) -> bool:
    """Whether a recorded leave from ``start`` to ``end`` (either open) covers ``today``."""
    if start is None and end is None:
        return False
    return (start is None or start <= today) and (end is None or today <= end)


def frozen_count(user_id: int) -> int:
    return Customer.objects.filter(owner_id=user_id, status=CustomerStatus.FROZEN).count()


def claims_since(user_id: int, pool_id: int | None, since: datetime) -> int:
    return OwnershipEvent.objects.filter(
        to_owner_id=user_id, kind=EventKind.CLAIMED.value, from_pool_id=pool_id, at__gte=since
    ).count()


def claims_in_periods(
    user_id: int, pool_id: int | None, now: datetime, zone: tzinfo
) -> tuple[int, int]:
    """Claims from one pool today and this week, on the organization's calendar."""
    return (
        claims_since(user_id, pool_id, day_start(now, zone)),
        claims_since(user_id, pool_id, week_start(now, zone)),
    )


def lost_at(user_id: int, customer_id: int) -> datetime | None:
    """When this rep last released the customer or had it recycled."""
    return (
        OwnershipEvent.objects.filter(
            customer_id=customer_id, from_owner_id=user_id, kind__in=LOSSES
        )
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )


def has_open_deal(customer_id: int) -> bool:
    return (
        Deal.objects.filter(customer_id=customer_id)
        .filter(~Q(stage__in=[DealStage.WON, DealStage.LOST]))
        .exists()
    )


@dataclass(frozen=True)
class ClaimCounts:
    claims_today: int
    claims_this_week: int
    holdings: int
    lost_at: datetime | None
    is_member: bool


def _claim_counts_sql(count_won: bool) -> str:
    """Every count a claim needs, in one statement (one round trip instead of five)."""
    event = OwnershipEvent._meta.db_table
    customer = Customer._meta.db_table
    team = Team._meta.db_table
    members = Pool.member_users.through._meta.db_table
    admins = Pool.admins.through._meta.db_table
    teams = Pool.member_teams.through._meta.db_table
    won = "" if count_won else f" AND h.stage <> '{CustomerStage.WON.value}'"
    claims = (
        f"SELECT COUNT(*) FROM {event} e WHERE e.to_owner_id = %s AND e.kind = "
        f"'{EventKind.CLAIMED.value}' AND e.from_pool_id = %s AND e.at >= %s"
    )
    return f"""
        SELECT ({claims}), ({claims}),
          (SELECT COUNT(*) FROM {customer} h WHERE h.owner_id = %s
             AND h.status IN ('owned', 'frozen'){won}),
          (SELECT MAX(e.at) FROM {event} e WHERE e.customer_id = %s AND e.from_owner_id = %s
             AND e.kind IN ('{LOSSES[0]}', '{LOSSES[1]}')),
          (EXISTS (SELECT 1 FROM {members} m WHERE m.pool_id = %s AND m.user_id = %s)
           OR EXISTS (SELECT 1 FROM {admins} a WHERE a.pool_id = %s AND a.user_id = %s)
           OR EXISTS (SELECT 1 FROM {teams} t JOIN {team} tt ON tt.id = t.team_id
                      WHERE t.pool_id = %s AND %s LIKE tt.path || '%%'))
    """


def _as_aware(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is None:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def claim_counts(
    user: User,
    pool_id: int | None,
    customer_id: int,
    now: datetime,
    zone: tzinfo,
    *,
    count_won: bool,
) -> ClaimCounts:
    """Quota use, holdings, the rep's last loss of this customer and pool membership,
    read in one statement (call after ``lock_reps``)."""
    team_path = user.team.path if user.team else ""
    params = [
        user.pk,
        pool_id,
        db_datetime(day_start(now, zone)),
        user.pk,
        pool_id,
        db_datetime(week_start(now, zone)),
        user.pk,
        customer_id,
        user.pk,
        pool_id,
        user.pk,
        pool_id,
        user.pk,
        pool_id,
        team_path,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_claim_counts_sql(count_won), params)
        today, week, held, lost, member = cursor.fetchone()
    return ClaimCounts(
        int(today), int(week), int(held), _as_aware(lost), bool(member) or bool(user.is_admin)
    )
