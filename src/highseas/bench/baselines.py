"""Raw-SQL baselines for a claim, on the DB-API connection Django already holds.

Two yardsticks, each one transaction per claim:

1. ``raw_conditional_update``: the single-row compare-and-set alone,
   ``UPDATE customer SET status='owned', owner_id=?, owned_since=? WHERE id=? AND
   status='pooled' AND owner_id IS NULL AND pool_id=?``, proceeding only when one row changed;
2. ``raw_update_and_ledger``: the least correct work — the same compare-and-set also setting
   ``recycle_due_at`` / ``warn_at``, plus the ledger row (a manager's assignment writes the same);
3. ``raw_followup``, on a customer it claimed: the activity row, and the customer's follow-up
   times and schedule in one ``UPDATE``;
4. ``raw_release``, on a customer it claimed: the compare-and-set from owned back to the pool,
   plus the ledger row.

The baselines bypass the services, so they undo themselves afterwards (``restore``): their
customers go back to the pool and their ledger rows, marked ``policy_ref='bench:baseline'``,
are removed, which leaves the database exactly as the services left it.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from highseas.accounts.models import User
from highseas.bench import BenchError, chunked
from highseas.bench.dataset import RECYCLE_POLICY
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Activity, Customer
from highseas.engine.ownership import EventKind
from highseas.pools.models import OwnershipEvent

MARK = "bench:baseline"
OWNED, POOLED = CustomerStatus.OWNED.value, CustomerStatus.POOLED.value


def _columns(model: type[Customer | OwnershipEvent | Activity], *names: str) -> list[str]:
    columns = {field.name: field.column for field in model._meta.concrete_fields}
    return [connection.ops.quote_name(columns[name]) for name in names]


def _driver_error() -> type[Exception]:
    """The DB-API driver's base error: the raw cursor's errors are not Django's."""
    if connection.vendor == "sqlite":
        import sqlite3

        return sqlite3.Error
    import psycopg

    return psycopg.Error


def _table(model: type[Customer | OwnershipEvent | Activity]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


class RawClaims:
    """Claims written with the DB-API cursor; remembers what it claimed, to undo it."""

    def __init__(self, pool_id: int) -> None:
        connection.ensure_connection()
        self.pool_id = pool_id
        self.cursor: Any = connection.connection.cursor()
        mark = "?" if connection.vendor == "sqlite" else "%s"
        self.begin = "BEGIN IMMEDIATE" if connection.vendor == "sqlite" else "BEGIN"
        self.claimed: list[int] = []
        status, owner, owned_since, due, warn, pk, pool = _columns(
            Customer, "status", "owner", "owned_since", "recycle_due_at", "warn_at", "id", "pool"
        )
        guard = (
            f"WHERE {pk} = {mark} AND {status} = '{POOLED}' AND {owner} IS NULL AND {pool} = {mark}"
        )
        self.update = (
            f"UPDATE {_table(Customer)} SET {status} = '{OWNED}', {owner} = {mark}, "
            f"{owned_since} = {mark} {guard}"
        )
        self.update_scheduled = (
            f"UPDATE {_table(Customer)} SET {status} = '{OWNED}', {owner} = {mark}, "
            f"{owned_since} = {mark}, {due} = {mark}, {warn} = {mark} {guard}"
        )
        ledger = _columns(
            OwnershipEvent,
            *("customer", "kind", "from_status", "from_pool", "to_status", "to_owner"),
            *("to_pool", "actor", "actor_label", "reason", "policy_ref", "at"),
        )
        self.insert_event = (
            f"INSERT INTO {_table(OwnershipEvent)} ({', '.join(ledger)}) "
            f"VALUES ({', '.join([mark] * len(ledger))})"
        )
        last, effective, stage = _columns(
            Customer, "last_activity_at", "last_effective_activity_at", "stage"
        )
        self.follow_up = (
            f"UPDATE {_table(Customer)} SET {last} = {mark}, {effective} = {mark}, "
            f"{stage} = 'contacted', {due} = {mark}, {warn} = {mark} WHERE {pk} = {mark} "
            f"AND {status} = '{OWNED}'"
        )
        activity = _columns(
            Activity,
            *("customer", "kind", "occurred_at", "author", "note", "outcome"),
            "created_at",
        )
        self.insert_activity = (
            f"INSERT INTO {_table(Activity)} ({', '.join(activity)}) "
            f"VALUES ({', '.join([mark] * len(activity))})"
        )
        self.release = (
            f"UPDATE {_table(Customer)} SET {status} = '{POOLED}', {owner} = NULL, "
            f"{owned_since} = NULL, {due} = NULL, {warn} = NULL WHERE {pk} = {mark} "
            f"AND {status} = '{OWNED}' AND {owner} = {mark} AND {pool} = {mark}"
        )
        self.released: list[int] = []

    def _now(self) -> tuple[datetime, Any]:
        now = timezone.now()
        return now, connection.ops.adapt_datetimefield_value(now)

    def _commit_one(self, statements: list[tuple[str, tuple[Any, ...]]], customer_id: int) -> None:
        """Run the statements in one transaction; the first must change exactly one row."""
        cursor = self.cursor
        cursor.execute(self.begin)
        try:
            for position, (sql, params) in enumerate(statements):
                cursor.execute(sql, params)
                if position == 0 and cursor.rowcount != 1:
                    raise BenchError(f"raw claim of customer {customer_id} changed no row")
            cursor.execute("COMMIT")
        except BaseException:
            with suppress(_driver_error()):
                cursor.execute("ROLLBACK")
            raise
        self.claimed.append(customer_id)

    def conditional_update(self, rep: User, customer_id: int) -> None:
        _, at = self._now()
        params = (rep.pk, at, customer_id, self.pool_id)
        self._commit_one([(self.update, params)], customer_id)

    def update_and_ledger(self, rep: User, customer_id: int) -> None:
        now, at = self._now()
        due = now + timedelta(days=RECYCLE_POLICY["idle_days"])
        warn = due - timedelta(days=RECYCLE_POLICY["warn_days"])
        adapt = connection.ops.adapt_datetimefield_value
        update = (rep.pk, at, adapt(due), adapt(warn), customer_id, self.pool_id)
        event = (
            *(customer_id, EventKind.CLAIMED.value, POOLED, self.pool_id, OWNED, rep.pk),
            *(self.pool_id, rep.pk, rep.username, "Claimed (raw baseline)", MARK, at),
        )
        self._commit_one([(self.update_scheduled, update), (self.insert_event, event)], customer_id)

    def followup(self, rep: User, customer_id: int) -> None:
        """A follow-up of a customer this object claimed for ``rep``."""
        now, at = self._now()
        due = now + timedelta(days=RECYCLE_POLICY["idle_days"])
        warn = due - timedelta(days=RECYCLE_POLICY["warn_days"])
        adapt = connection.ops.adapt_datetimefield_value
        update = (at, at, adapt(due), adapt(warn), customer_id)
        activity = (customer_id, "call", at, rep.pk, MARK, "", at)
        self._run_one([(self.follow_up, update), (self.insert_activity, activity)], customer_id)

    def release_one(self, rep: User, customer_id: int) -> None:
        """The release of a customer this object claimed for ``rep``."""
        _, at = self._now()
        event = (
            *(customer_id, EventKind.RELEASED.value, OWNED, self.pool_id, POOLED, None),
            *(self.pool_id, rep.pk, rep.username, "Released (raw baseline)", MARK, at),
        )
        update = (customer_id, rep.pk, self.pool_id)
        self._run_one([(self.release, update), (self.insert_event, event)], customer_id)

    def _run_one(self, statements: list[tuple[str, tuple[Any, ...]]], customer_id: int) -> None:
        """``_commit_one`` for a customer already claimed: it is undone by ``restore`` too."""
        self._commit_one(statements, customer_id)
        self.claimed.pop()

    def restore(self) -> None:
        """Put every customer this object claimed back in the pool and drop its ledger rows
        and its activities."""
        self._delete_own_activities()
        for chunk in chunked(self.claimed, 500):
            Customer.objects.filter(pk__in=chunk, pool_id=self.pool_id).update(
                status=POOLED, owner=None, owned_since=None, recycle_due_at=None, warn_at=None
            )
            self._delete_own_events(list(chunk))
        self.claimed.clear()

    def _delete_own_events(self, customer_ids: list[int]) -> None:
        """Raw, because the ledger model refuses deletes: these rows are the baseline's own
        scaffolding, not history the services wrote."""
        customer, policy_ref = _columns(OwnershipEvent, "customer", "policy_ref")
        marks = ", ".join(["%s"] * len(customer_ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {_table(OwnershipEvent)} "
                f"WHERE {customer} IN ({marks}) AND {policy_ref} = %s",
                [*customer_ids, MARK],
            )

    def _delete_own_activities(self) -> None:
        note = _columns(Activity, "note")[0]
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {_table(Activity)} WHERE {note} = %s", [MARK])

    def close(self) -> None:
        self.cursor.close()
