"""A rep's follow-up of their own customer as three statements built once per process
(SPEC §6): the follow-up that restarts the recycle clock, at rush-hour rates.

1. lock and read, in one statement, the customer's row, its pool's recycle policy, the owner's
   leave, and the two deal facts the schedule reads (an open deal, the last won contract's end):
   ``SELECT … FOR UPDATE OF c`` on PostgreSQL, SQLite's write transaction elsewhere;
2. insert the activity: one ``INSERT … RETURNING id`` (``rows.insert_instances`` takes its ids
   from the sequence first and then sends a ``COPY`` on PostgreSQL, two round trips and a
   millisecond of the server's time for one row);
3. write the customer's follow-up times, its stage (a prospect becomes contacted) and its
   recomputed schedule in one ``UPDATE``.

On PostgreSQL a follow-up is thus ``BEGIN``, three round trips and ``COMMIT`` (it was six in
all: the sequence read and the ``COPY`` were two).

``followups.log_activity`` (the full path) did the same in five statements with a queryset
each. Only the owner's own follow-up is decided here: anybody else (a manager, a leave's
cover, a stranger to be refused) answers ``None`` before writing, and the full path decides.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection

from highseas.accounts import raw_rows
from highseas.accounts.models import RepProfile, User
from highseas.customers.choices import CustomerStage, DealStage
from highseas.customers.models import Activity, Customer, Deal
from highseas.engine.ownership import Status
from highseas.pools import claim_statements
from highseas.pools.models import DEFAULT_EFFECTIVE_KINDS, RecyclePolicy
from highseas.pools.policies import RECYCLE_RULE_FIELDS
from highseas.pools.rows import columns, db_datetime, db_time

CUSTOMER_ROW = raw_rows.concrete_attnames(Customer)
EXTRA = (
    *("rp_id", *(f"rp_{name}" for name in RECYCLE_RULE_FIELDS), "rp_effective_activity_kinds"),
    *("p_leave_from", "p_leave_until", "open_deal", "won_until"),
)
WRITTEN = ("last_activity_at", "last_effective_activity_at", "stage", "recycle_due_at", "warn_at")


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


@cache
def _read_sql(vendor: str) -> str:
    deal = _table(Deal)
    closed = (DealStage.WON.value, DealStage.LOST.value)
    selected = (
        *raw_rows.column_names(Customer, "c", CUSTOMER_ROW),
        "rp.id",
        *(f"rp.{name}" for name in RECYCLE_RULE_FIELDS),
        "rp.effective_activity_kinds",
        "p.leave_from",
        "p.leave_until",
        f"EXISTS (SELECT 1 FROM {deal} d WHERE d.customer_id = c.id "
        f"AND d.stage NOT IN ('{closed[0]}', '{closed[1]}'))",
        f"(SELECT MAX(COALESCE(d.contract_end, d.won_at)) FROM {deal} d "
        f"WHERE d.customer_id = c.id AND d.stage = '{DealStage.WON.value}')",
    )
    lock = " FOR UPDATE OF c" if vendor == "postgresql" else ""
    return (
        f"SELECT {', '.join(selected)} FROM {_table(Customer)} c "
        f"LEFT JOIN {_table(RecyclePolicy)} rp ON rp.pool_id = c.pool_id "
        f"LEFT JOIN {_table(RepProfile)} p ON p.user_id = c.owner_id "
        f"WHERE c.id = %s{lock}"
    )


ACTIVITY = ("customer", "kind", "occurred_at", "author", "note", "outcome", "next_contact_at")


@cache
def _activity_sql(vendor: str) -> str:
    """Step 2, the activity row (parameters: ``ACTIVITY``, then ``created_at``), answering its
    id."""
    table, quoted = columns(Activity, *ACTIVITY, "created_at")
    marks = ", ".join(["%s"] * len(quoted))
    pk = connection.ops.quote_name(Activity._meta.pk.column)
    return f"INSERT INTO {table} ({', '.join(quoted)}) VALUES ({marks}) RETURNING {pk}"


def _insert(activity: Activity) -> None:
    """Save the new activity as its model would (``created_at`` set now), in one statement."""
    created = Activity._meta.get_field("created_at").pre_save(activity, True)
    kind = activity.kind
    values = [
        *(activity.customer_id, getattr(kind, "value", kind), db_datetime(activity.occurred_at)),
        *(activity.author_id, activity.note, activity.outcome, db_time(activity.next_contact_at)),
        db_datetime(created),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_activity_sql(connection.vendor), values)
        activity.pk = cursor.fetchone()[0]
    activity._state.adding = False
    activity._state.db = connection.alias


@cache
def _write_sql(vendor: str) -> str:
    sets = ", ".join(f"{column} = %s" for column in raw_rows.column_names(Customer, "", WRITTEN))
    return f"UPDATE {_table(Customer)} SET {sets} WHERE id = %s AND status = %s"


def _later(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def new_activity(
    actor: User,
    customer: Customer,
    *,
    kind: str,
    occurred_at: datetime,
    note: str,
    outcome: str,
    next_contact_at: datetime | None,
) -> Activity:
    """The follow-up's activity, not yet saved."""
    return Activity(
        customer=customer,
        kind=kind,
        occurred_at=occurred_at,
        author=actor,
        note=note,
        outcome=outcome,
        next_contact_at=next_contact_at,
    )


def mark_followed(customer: Customer, occurred_at: datetime, *, effective: bool) -> list[str]:
    """Move the customer's follow-up times to a follow-up at ``occurred_at`` (the effective
    time too when its kind is effective) and make a prospect contacted; the fields changed.
    Both paths, the statements here and ``followups.log_activity``, record a follow-up so."""
    customer.last_activity_at = _later(customer.last_activity_at, occurred_at)
    fields = ["last_activity_at"]
    if effective:
        customer.last_effective_activity_at = _later(
            customer.last_effective_activity_at, occurred_at
        )
        fields.append("last_effective_activity_at")
    if customer.stage == CustomerStage.PROSPECT:
        customer.stage = CustomerStage.CONTACTED.value
        fields.append("stage")
    return fields


def _kinds(value: Any) -> list[str]:
    if value is None:
        return list(DEFAULT_EFFECTIVE_KINDS)
    kinds = json.loads(value) if isinstance(value, str | bytes) else value
    return list(kinds)


def log_activity(
    actor: User,
    customer_id: int,
    *,
    kind: str,
    occurred_at: datetime,
    note: str,
    outcome: str,
    next_contact_at: datetime | None,
) -> Activity | None:
    """The owner's follow-up (already validated by the caller), or ``None`` with nothing
    written when the actor is not the customer's owner. Call inside a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(_read_sql(connection.vendor), [customer_id])
        found = cursor.fetchone()
    if found is None:
        return None
    customer = raw_rows.instance(Customer, CUSTOMER_ROW, found[: len(CUSTOMER_ROW)])
    if customer.owner_id is None or customer.owner_id != actor.pk:
        return None
    row = dict(zip(EXTRA, found[len(CUSTOMER_ROW) :], strict=True))
    activity = new_activity(
        actor,
        customer,
        kind=kind,
        occurred_at=occurred_at,
        note=note,
        outcome=outcome,
        next_contact_at=next_contact_at,
    )
    _insert(activity)
    mark_followed(
        customer, occurred_at, effective=kind in _kinds(row["rp_effective_activity_kinds"])
    )
    facts = {
        **row,
        "stage": customer.stage,
        "level": customer.level,
        "last_activity_at": customer.last_activity_at,
        "last_effective_activity_at": customer.last_effective_activity_at,
    }
    plan = claim_statements.schedule_row(facts, customer.owned_since, Status(customer.status))
    customer.recycle_due_at, customer.warn_at = plan.due_at, plan.warn_at
    values = [
        *(db_time(customer.last_activity_at), db_time(customer.last_effective_activity_at)),
        *(customer.stage, db_time(plan.due_at), db_time(plan.warn_at), customer_id),
        customer.status,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_write_sql(connection.vendor), values)
    return activity
