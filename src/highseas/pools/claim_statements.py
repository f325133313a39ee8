"""The claim as a few statements built once per process (SPEC §4–5, §12).

When the pool refills, a whole sales floor claims at once. Through the ORM a claim compiled five
querysets and built five model instances, ten times the database's own work; this path runs the
same rules with plain SQL built once per process and connection vendor:

1. lock the rep: on PostgreSQL ``SELECT … FOR UPDATE`` on their profile row (created first when
   missing); on SQLite the ``BEGIN IMMEDIATE`` write transaction already serializes writers;
2. read, in ONE statement, the customer (not merged away), both policies of its pool, the rep's
   overrides and every count the rules need: claims today and this week from that pool,
   holdings, the rep's last loss of this customer, pool membership, open and won deals;
3. the engine decides (``decide_claim``, then the pool's reason rule) and schedules the
   customer's recycling (``schedule``), exactly as on the ORM path;
4. compare-and-set ``UPDATE … WHERE id AND status = 'pooled' AND owner IS NULL AND pool AND
   not merged``: exactly one row, else a typed error naming the holder;
5. the ``claimed`` ledger row, with the quotas the claim was judged by (``quota_ref``); on
   PostgreSQL steps 4 and 5 are one statement (``WITH moved AS (UPDATE … RETURNING id)
   INSERT … SELECT … FROM moved``), so a claim there is three round trips besides BEGIN and
   COMMIT, as on SQLite.
On PostgreSQL the lock and the read go to the server together (``one_round_trip``, psycopg's
pipeline mode): the server still runs them one after the other, so the read takes its snapshot
once the lock is granted and sees every claim committed before. A claim there is thus four
round trips, as many as the raw UPDATE + ledger INSERT: ``BEGIN`` (psycopg sends and syncs it
on its own, even in a pipeline), the lock with the read, the compare-and-set with the ledger
row, ``COMMIT``.
A pool that asks for approval is answered ``None`` after step 3: the claim becomes a request on
the ORM path (``ownership.claim``), which is not the rush path.
A refusal that wrote nothing is marked so (``HighSeasError.wrote_nothing``), so that the caller
can end its transaction with a commit instead of a rollback: psycopg forgets every statement a
connection prepared at each rollback, and in a rush, where half the claims lose a race, a
connection would then parse and plan the four statements again at nearly every claim.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from highseas.accounts import driver, raw_rows
from highseas.accounts.models import RepProfile, Team, User
from highseas.customers.choices import CustomerStage, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.claims import ClaimFacts, decide_claim
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.limits import ClaimLimits, RepOverrides, effective_limits
from highseas.engine.ownership import EventKind, Status
from highseas.engine.periods import day_start, week_start
from highseas.engine.recycle import CustomerClock, RecycleRules, Schedule, schedule
from highseas.insights.models import LimitPlan, RepLimitFactor
from highseas.pools import facts
from highseas.pools.ledger import reason_values
from highseas.pools.models import ClaimPolicy, OwnershipEvent, Pool, RecyclePolicy
from highseas.pools.policies import (
    CLAIM_LIMIT_FIELDS,
    RECYCLE_RULE_FIELDS,
    late_warning_fraction,
    limits_from,
    rules_from,
)
from highseas.pools.quotas import TIER_FIELDS, quota_ref, standing, tiered_limits
from highseas.pools.reasons import Reason
from highseas.pools.rows import columns, db_datetime, db_time
from highseas.pools.schedule import leave_span

POOLED, OWNED = Status.POOLED.value, Status.OWNED.value
CUSTOMER_FIELDS = (
    *("name", "status", "owner_id", "pool_id", "stage", "level"),
    *("last_effective_activity_at", "last_activity_at"),
)
OVERRIDES = ("holding_cap_override", "daily_quota_override", "weekly_quota_override")
LEAVE = ("leave_from", "leave_until")  # the claimant's recorded leave pauses the clocks
COUNTS = ("today", "week", "held", "held_open", "lost_at", "is_member", "open_deal", "won_until")
# The rep's performance tier in the pool (``pools.quotas.tiered_limits``): factor, ceilings.
TIER = ("lf_multiplier", *(f"lp_{name}" for name in TIER_FIELDS))
# What the result row holds, in order: the customer, its holder, the claim policy (``cp_``),
# the recycle policy (``rp_``), the rep's profile (``p_``) and the counts.
ROW = (
    *CUSTOMER_FIELDS,
    *("holder_display_name", "holder_username", "pool_name", "pool_masked_fields"),
    *("pool_is_reassign_queue", "cp_id"),
    *(f"cp_{name}" for name in (*CLAIM_LIMIT_FIELDS, "requires_reason")),
    "rp_id",
    *(f"rp_{name}" for name in RECYCLE_RULE_FIELDS),
    "p_id",
    *(f"p_{name}" for name in OVERRIDES),
    *(f"p_{name}" for name in LEAVE),
    *COUNTS,
    *TIER,
)


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


@cache
def _facts_sql(vendor: str) -> str:
    """Step 2: everything the rules read, in one statement (named parameters ``customer``,
    ``rep``, ``day``, ``week``)."""
    event, customer, deal = _table(OwnershipEvent), _table(Customer), _table(Deal)
    members = _table(Pool.member_users.through)
    admins = _table(Pool.admins.through)
    teams = _table(Pool.member_teams.through)
    won, open_deal = CustomerStage.WON.value, (DealStage.WON.value, DealStage.LOST.value)
    claimed = EventKind.CLAIMED.value
    # The rep's claims from the customer's pool this week, and of them today's (the day starts
    # within the week), in ONE walk of the rep's (rep, kind, time, pool) index: the week's walk
    # already passes every entry of today. The pool (the customer's, read by primary key once
    # for the statement) is a filter of the counts, not a condition of the walk: as a
    # condition, with ledger statistics from before the pool's claims (the usual case at 9:00,
    # since a large ledger is analyzed seldom) the planner took the ledger's pool index
    # instead, i.e. walked every claim of the pool by anyone, a read that grew with each
    # claim of the rush. The index holds the pool, so the walk reads no ledger row: before
    # (pools 0015) each entry was looked up in the table for its pool, 2.6 ms a claim on
    # SQLite for a rep with 1,354 claims that week, 0.5 ms from the index alone. On PostgreSQL
    # the week's start is a row comparison on the index's leading columns, for the same
    # reason: with a plain ``e.at >= …`` the planner walked the (time, …) index, i.e. every
    # claim of the period by anyone.
    since = (
        f"(e.to_owner_id, e.kind, e.at) >= (%(rep)s, '{claimed}', %(week)s)"
        if vendor == "postgresql"
        else "e.at >= %(week)s"
    )
    pool = f"e.from_pool_id = (SELECT cc.pool_id FROM {customer} cc WHERE cc.id = %(customer)s)"
    claims = (
        f"(SELECT COUNT(*) FILTER (WHERE {pool} AND e.at >= %(day)s) AS today, "
        f"COUNT(*) FILTER (WHERE {pool}) AS week "
        f"FROM {event} e WHERE e.to_owner_id = %(rep)s AND e.kind = '{claimed}' "
        f"AND {since}) q"
    )
    # The rep's holdings, and of them those not won, in one walk of the (owner, status,
    # stage) index.
    held = (
        "(SELECT COUNT(*) AS held, "
        f"COUNT(*) FILTER (WHERE h.stage <> '{won}') AS held_open FROM {customer} h "
        "WHERE h.owner_id = %(rep)s AND h.status IN ('owned', 'frozen')) hq"
    )
    rep_path = (
        f"(SELECT tp.path FROM {_table(Team)} tp JOIN {_table(User)} u ON u.team_id = tp.id "
        "WHERE u.id = %(rep)s)"
    )
    selected = (
        *(f"c.{name}" for name in CUSTOMER_FIELDS),
        "o.display_name",
        "o.username",
        "pl.name",
        "pl.masked_fields",
        "pl.is_reassign_queue",
        "cp.id",
        *(f"cp.{name}" for name in (*CLAIM_LIMIT_FIELDS, "requires_reason")),
        "rp.id",
        *(f"rp.{name}" for name in RECYCLE_RULE_FIELDS),
        "p.id",
        *(f"p.{name}" for name in OVERRIDES),
        *(f"p.{name}" for name in LEAVE),
        *("q.today", "q.week", "hq.held", "hq.held_open"),
        f"(SELECT MAX(e.at) FROM {event} e WHERE e.customer_id = c.id "
        "AND e.from_owner_id = %(rep)s "
        f"AND e.kind IN ('{facts.LOSSES[0]}', '{facts.LOSSES[1]}'))",
        f"(EXISTS (SELECT 1 FROM {members} m WHERE m.pool_id = c.pool_id AND m.user_id = %(rep)s)"
        f" OR EXISTS (SELECT 1 FROM {admins} a WHERE a.pool_id = c.pool_id "
        "AND a.user_id = %(rep)s)"
        f" OR EXISTS (SELECT 1 FROM {teams} t JOIN {_table(Team)} tt ON tt.id = t.team_id "
        f"WHERE t.pool_id = c.pool_id AND {rep_path} LIKE tt.path || '%%'))",
        f"EXISTS (SELECT 1 FROM {deal} d WHERE d.customer_id = c.id "
        f"AND d.stage NOT IN ('{open_deal[0]}', '{open_deal[1]}'))",
        f"(SELECT MAX(COALESCE(d.contract_end, d.won_at)) FROM {deal} d "
        f"WHERE d.customer_id = c.id AND d.stage = '{DealStage.WON.value}')",
        "lf.multiplier",
        *(f"lp.{name}" for name in TIER_FIELDS),
    )
    assert len(selected) == len(ROW), (len(selected), len(ROW))
    return (
        f"SELECT {', '.join(selected)} FROM {customer} c CROSS JOIN {claims} CROSS JOIN {held} "
        f"LEFT JOIN {_table(User)} o ON o.id = c.owner_id "
        f"LEFT JOIN {_table(Pool)} pl ON pl.id = c.pool_id "
        f"LEFT JOIN {_table(ClaimPolicy)} cp ON cp.pool_id = c.pool_id "
        f"LEFT JOIN {_table(RecyclePolicy)} rp ON rp.pool_id = c.pool_id "
        f"LEFT JOIN {_table(RepProfile)} p ON p.user_id = %(rep)s "
        f"LEFT JOIN {_table(LimitPlan)} lp ON lp.pool_id = c.pool_id AND lp.is_active "
        f"LEFT JOIN {_table(RepLimitFactor)} lf ON lf.pool_id = lp.pool_id "
        "AND lf.rep_id = %(rep)s "
        "WHERE c.id = %(customer)s AND c.merged_into_id IS NULL"
    )


@cache
def lock_sql(vendor: str) -> str:
    """Lock one rep's profile row (parameter: the rep's user id)."""
    return f"SELECT 1 FROM {_table(RepProfile)} WHERE user_id = %s FOR UPDATE"


CUSTOMER_ROW = raw_rows.concrete_attnames(Customer)  # the claimed row, as RETURNING gives it


@cache
def _claim_sql(vendor: str, whole: bool = True) -> str:
    """Step 4, the compare-and-set (parameters: owner, owned_since, due, warn, id, pool),
    returning the whole row as it left it, for the claim's answer (``whole``), else its id."""
    returned = ", ".join(raw_rows.column_names(Customer, "", CUSTOMER_ROW if whole else ("id",)))
    return (
        f"UPDATE {_table(Customer)} SET status = '{OWNED}', owner_id = %s, owned_since = %s, "
        "frozen_until = NULL, recycle_due_at = %s, warn_at = %s "
        f"WHERE id = %s AND status = '{POOLED}' AND owner_id IS NULL AND pool_id = %s "
        f"AND merged_into_id IS NULL RETURNING {returned}"
    )


LEDGER_FIELDS = (
    *("customer", "kind", "from_status", "from_owner", "from_pool", "to_status", "to_owner"),
    *("to_pool", "actor", "actor_label", "reason", "reason_code", "reason_params"),
    *("policy_ref", "at"),
)


@cache
def _claim_and_ledger_sql(vendor: str, whole: bool = True) -> str:
    """Steps 4 and 5 in one statement on PostgreSQL: the compare-and-set, and the ledger row
    inserted from what it changed (one row, or none when the customer moved meanwhile); it
    answers the moved row (``_claim_sql``)."""
    table, quoted = columns(OwnershipEvent, *LEDGER_FIELDS)
    values = ", ".join(["%s"] * len(quoted))
    return (
        f"WITH moved AS ({_claim_sql(vendor, whole)}), "
        f"logged AS (INSERT INTO {table} ({', '.join(quoted)}) SELECT {values} FROM moved) "
        "SELECT * FROM moved"
    )


@cache
def _ledger_sql(vendor: str) -> str:
    """Step 5, the ledger row (parameters in the order of ``LEDGER_FIELDS``)."""
    table, quoted = columns(OwnershipEvent, *LEDGER_FIELDS)
    marks = ", ".join(["%s"] * len(quoted))
    return f"INSERT INTO {table} ({', '.join(quoted)}) VALUES ({marks})"


def insert_ledger_row(values: Sequence[Any]) -> None:
    """One ledger row (values in the order of ``LEDGER_FIELDS``, the reason as
    ``ledger.reason_values`` gives it) as one precompiled ``INSERT``: a single move's row,
    which the set-based writer (``ledger.record_events``) would send through ``COPY`` on
    PostgreSQL, a round trip more."""
    with connection.cursor() as cursor:
        cursor.execute(_ledger_sql(connection.vendor), list(values))


def _aware(value: Any) -> datetime | None:
    """A datetime column as an aware datetime (SQLite answers naive UTC, or text for an
    expression column)."""
    moment = value if isinstance(value, datetime) or value is None else parse_datetime(str(value))
    if moment is None:
        return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def require_reason(requires_reason: bool, reason: str) -> None:
    if requires_reason and not reason:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("This pool asks why you claim the customer."),
            errors={"reason": ["required"]},
        )


@contextmanager
def one_round_trip() -> Iterator[None]:
    """On PostgreSQL, the statements executed inside go to the server together (psycopg's
    pipeline mode; a transaction's ``BEGIN`` still goes first on its own, psycopg syncs it), and
    their results come back at the end of the block: fetch them after it (a fetch inside costs a
    round trip of its own). The server runs them in order, each as if sent alone. Elsewhere a
    no-op."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


@lru_cache(maxsize=4)
def _periods(vendor: str, day: datetime, week: datetime) -> tuple[Any, Any]:
    """The starts of the day and the week as the driver takes them (adapted once a day, not on
    every claim)."""
    return db_datetime(day), db_datetime(week)


def _read_facts(cursor: Any, vendor: str, params: dict[str, Any]) -> Any:
    cursor.execute(_facts_sql(vendor), params)
    return cursor.fetchone()


def read(claimant: User, customer_id: int, now: datetime) -> dict[str, Any]:
    """Steps 1 and 2: lock the rep (the claimant, or the receiver of an assignment), then read
    the facts; on PostgreSQL both in one round trip (``one_round_trip``). ``made_profile``
    says whether the rep's profile row was missing and written first."""
    zone = timezone.get_default_timezone()
    vendor = connection.vendor
    day, week = _periods(vendor, day_start(now, zone), week_start(now, zone))
    params = {"customer": customer_id, "rep": claimant.pk, "day": day, "week": week}
    if vendor == "sqlite":  # the write transaction (BEGIN IMMEDIATE) is the lock
        found = driver.fetch_one(_facts_sql(vendor), params)
    else:
        with connection.cursor() as lock, connection.cursor() as cursor:
            with one_round_trip():
                lock.execute(lock_sql(vendor), [claimant.pk])
                cursor.execute(_facts_sql(vendor), params)
            found = cursor.fetchone()
            made_profile = lock.fetchone() is None
            if made_profile:  # read unlocked: create the profile, lock, read again
                facts.lock_reps(claimant.pk)
                found = _read_facts(cursor, vendor, params)
    if found is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    row = dict(zip(ROW, found, strict=True))
    row["id"] = customer_id
    if vendor == "sqlite":
        made_profile = row["p_id"] is None
        if made_profile:
            facts.lock_reps(claimant.pk)  # every rep who ever claimed has a profile row
    row["made_profile"] = made_profile
    return row


def limits(claimant: User, row: dict[str, Any]) -> ClaimLimits:
    """The pool's limits after the rep's performance tier (read in the same statement),
    under the rep's overrides (the strictest wins)."""
    pool = ClaimLimits()
    if row["cp_id"] is not None:
        values = {name: row[f"cp_{name}"] for name in CLAIM_LIMIT_FIELDS}
        for flag in ("count_won_in_cap", "requires_approval"):
            values[flag] = bool(values[flag])
        pool = tiered_limits(limits_from(values), *(row[name] for name in TIER))
    overrides = RepOverrides(*(row[f"p_{name}"] for name in OVERRIDES))
    return effective_limits(pool, overrides)


def _facts(claimant: User, row: dict[str, Any], limits: ClaimLimits) -> ClaimFacts:
    holder = row["holder_display_name"] or row["holder_username"]
    return ClaimFacts(
        status=Status(row["status"]),
        is_member=bool(row["is_member"]) or bool(claimant.is_admin),
        holder_name=holder if row["owner_id"] is not None else None,
        holdings=int(row["held"] if limits.count_won_in_cap else row["held_open"]),
        claims_today=int(row["today"]),
        claims_this_week=int(row["week"]),
        lost_at=_aware(row["lost_at"]),
    )


def _counted(limits: ClaimLimits, stage: str) -> int:
    """1 when the claimed customer counts toward the rep's holdings cap (as ``_facts`` reads
    them: a won customer only where the pool counts won ones)."""
    return int(limits.count_won_in_cap or stage != CustomerStage.WON.value)


def leave_dates(row: dict[str, Any]) -> tuple[date | None, date | None]:
    """The rep's recorded leave as the row read it (SQLite answers dates as text)."""
    first, last = (row[f"p_{name}"] for name in LEAVE)
    return (
        date.fromisoformat(first) if isinstance(first, str) else first,
        date.fromisoformat(last) if isinstance(last, str) else last,
    )


def _leave(row: dict[str, Any]) -> tuple[tuple[datetime, datetime], ...]:
    """The claimant's recorded leave as clock pauses (``schedule.leave_span``)."""
    span = leave_span(*leave_dates(row))
    return (span,) if span else ()


def schedule_row(
    row: dict[str, Any], owned_since: datetime | None, status: Status = Status.OWNED
) -> Schedule:
    """The recycle schedule of the customer ``row`` was read for, owned since ``owned_since``
    by the rep whose leave it holds, under its pool's rules (``schedule.schedule_for``)."""
    if row["rp_id"] is None or status is not Status.OWNED:
        return Schedule()
    rules = _recycle_rules(tuple(row[f"rp_{name}"] for name in RECYCLE_RULE_FIELDS))
    is_won = row["stage"] == CustomerStage.WON
    clock = CustomerClock(
        status=status,
        level=row["level"],
        is_won=is_won,
        has_open_deal=rules.exempt_open_deal and bool(row["open_deal"]),
        owned_since=owned_since,
        last_effective_activity_at=_aware(row["last_effective_activity_at"]),
        last_activity_at=_aware(row["last_activity_at"]),
        won_until=(
            _aware(row["won_until"]) if is_won and rules.won_repurchase_days is not None else None
        ),
        pauses=_leave(row),
    )
    return schedule(rules, clock)


def _recycle_rules(columns: tuple[Any, ...]) -> RecycleRules:
    """A recycle policy's rules from its columns as read (``RECYCLE_RULE_FIELDS``' order), made
    once for the same columns where they are all hashable (SQLite gives the JSON ones as
    text): a run or a rush applies one policy to customer after customer."""
    try:
        hash(columns)
    except TypeError:  # a JSON column already decoded (PostgreSQL): a list or a dict
        return _rules_of(columns)
    return _cached_rules(columns, late_warning_fraction())


@lru_cache(maxsize=64)
def _cached_rules(columns: tuple[Any, ...], fraction: float) -> RecycleRules:
    """Keyed by the deployment's late-warning fraction too, which the rules carry."""
    return _rules_of(columns)


def _rules_of(columns: tuple[Any, ...]) -> RecycleRules:
    values = dict(zip(RECYCLE_RULE_FIELDS, columns, strict=True))
    for name in ("exempt_levels", "level_overrides"):
        values[name] = _json(values[name])
    for flag in ("exempt_won", "exempt_open_deal"):
        values[flag] = bool(values[flag])
    return rules_from(values)


def _conflict(customer_id: int) -> HighSeasError:
    """The compare-and-set found the customer changed since step 2 (another rep's claim)."""
    sql = (
        f"SELECT u.display_name, u.username, c.status FROM {_table(Customer)} c "
        f"JOIN {_table(User)} u ON u.id = c.owner_id WHERE c.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer_id])
        holder = cursor.fetchone()
    if holder is not None:
        return HighSeasError(
            ErrorCode.ALREADY_OWNED,
            _("This customer already has an owner."),
            holder=holder[0] or holder[1],
            status=holder[2],
        )
    return HighSeasError(
        ErrorCode.STATE_CONFLICT, _("The customer changed meanwhile; reload and try again.")
    )


POOL_ROW = ("id", "name", "masked_fields")  # what the answer reads of the pool


def _claimed_customer(claimant: User, row: dict[str, Any], moved: Sequence[Any]) -> Customer:
    """The customer as the claim left it (the row its compare-and-set returned), with its
    owner and pool (the fields of it the answer reads; others load on first use). Its times,
    JSON and contact fields are converted from that row when first read (``lazy_instance``):
    the web page and most callers read only its id, name, owner and pool."""
    customer = raw_rows.lazy_instance(Customer, CUSTOMER_ROW, moved)
    customer.owner = claimant
    if customer.pool_id is not None:
        pool = (customer.pool_id, row["pool_name"], row["pool_masked_fields"])
        customer.pool = raw_rows.instance(Pool, POOL_ROW, pool)
    return customer


@dataclass(frozen=True)
class Claimed:
    """A claim's customer, and the rep's standing in its pool with this claim counted (what
    the rules read under the rep's lock, plus this claim): a page answering the claim shows
    it without reading the rep's counts again."""

    customer: Customer
    standing: dict[str, Any]


def claim(
    claimant: User, customer_id: int, *, reason: Reason | str, rep_reason: str, now: datetime
) -> Claimed | None:
    """The claim of a pooled customer by ``claimant`` (who acts for themselves), every rule
    re-checked under the rep's lock; ``None`` when the pool asks for approval (nothing was
    written). Call inside a transaction; a refusal raises and leaves no trace, marked
    ``wrote_nothing`` when it wrote nothing at all (its transaction may commit)."""
    row = read(claimant, customer_id, now)
    try:
        rep_limits = limits(claimant, row)
        judged = _facts(claimant, row, rep_limits)
        refusal = decide_claim(rep_limits, judged, now)
        if refusal is not None:
            raise refusal
        require_reason(bool(row["cp_requires_reason"]), rep_reason)
        if rep_limits.requires_approval:
            return None
        customer = write_owned(
            row,
            claimant,
            kind=EventKind.CLAIMED,
            actor=claimant,
            reason=reason,
            policy_ref=quota_ref(rep_limits),  # the quotas this claim was judged by, for `check`
            now=now,
        )
        after = standing(
            row["pool_id"],
            row["pool_name"],
            rep_limits,
            holdings=judged.holdings + _counted(rep_limits, row["stage"]),
            today=judged.claims_today + 1,
            week=judged.claims_this_week + 1,
        )
        return Claimed(customer, after)
    except HighSeasError as error:
        # Refused by the rules, or by the compare-and-set that changed no row (``write_owned``
        # raises one only then, and a database error is no HighSeasError): nothing written,
        # unless the rep's profile was made for this claim.
        error.wrote_nothing = not row["made_profile"]
        raise


# What a customer answered without its whole row holds (``write_owned(whole=False)``), in the
# model's field order; every other field loads from the database on first use.
BRIEF_ROW = ("id", "name", "status", "pool_id", "owner_id")


def write_owned(
    row: dict[str, Any],
    owner: User,
    *,
    kind: EventKind,
    actor: User,
    reason: Reason | str,
    policy_ref: str,
    now: datetime,
    whole: bool = True,
) -> Customer:
    """Steps 4 and 5 for the pooled customer ``row`` was read for (``read``), now ``owner``'s
    by ``actor``'s hand (a claim, or a manager's assignment): the compare-and-set from pooled
    in its pool, the ledger row, the recycle schedule under the owner's leave. Raises when the
    customer moved since it was read. The answer is the customer as the write left it, with
    its owner and pool (``whole``: what an API answer shows of it), or else built from what
    ``row`` and the write already know (``BRIEF_ROW``: whom to tell of what, as a run does),
    without reading the row back or decrypting its contact fields."""
    customer_id = row["id"]
    plan = schedule_row(row, now)
    pool_id = row["pool_id"]
    at = db_datetime(now)
    moved = [
        *(owner.pk, at, db_time(plan.due_at), db_time(plan.warn_at)),
        *(customer_id, pool_id),
    ]
    entry = [
        *(customer_id, kind.value, POOLED, None, pool_id),
        *(OWNED, owner.pk, pool_id, actor.pk, actor.username, *reason_values(reason)),
        *(policy_ref, at),
    ]
    vendor = connection.vendor
    if vendor == "postgresql":  # one round trip: the ledger row only if the row moved
        with connection.cursor() as cursor:
            cursor.execute(_claim_and_ledger_sql(vendor, whole), [*moved, *entry])
            claimed = cursor.fetchone()
        if claimed is None:
            raise _conflict(customer_id)
    else:  # two statements on SQLite's own cursor (``accounts.driver``)
        claimed = driver.fetch_one(_claim_sql(vendor, whole), moved)
        if claimed is None:
            raise _conflict(customer_id)
        driver.run(_ledger_sql(vendor), entry)
    if not whole:
        brief = [customer_id, row["name"], OWNED, pool_id, owner.pk]
        return raw_rows.loaded(Customer, BRIEF_ROW, brief)
    return _claimed_customer(owner, row, claimed)
