"""An ownership move's read and compare-and-set as statements built once per process (SPEC §5).

``load_customer`` reads the customer (not merged away) with its owner, its pool and both of
the pool's policies in ONE statement, built into the same instances ``select_related`` would
give (the ORM compiled that five-table query anew on every release, assign, transfer, freeze
and unfreeze, which cost more than the rest of the move).

``ownership.move`` (release, assign, transfer, freeze, unfreeze) wrote through a queryset's
``update()``, compiled anew on every call; this is the same statement as plain SQL, one text
per vendor and shape (whether the expected owner and pool are NULL, whether the previous owner
is set): ``UPDATE … SET <the new state> WHERE id AND status AND owner AND pool AND not merged``.
It changes exactly one row or none; none means the customer moved meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection

from highseas.accounts import raw_rows
from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools.models import ClaimPolicy, Pool, RecyclePolicy
from highseas.pools.rows import columns, db_time

# The tables ``load_customer`` reads, by alias, in the order of the columns it selects.
LOADED = (("c", Customer), ("o", User), ("p", Pool), ("cp", ClaimPolicy), ("rp", RecyclePolicy))

SET = ("status", "owner", "pool", "owned_since", "frozen_until", "recycle_due_at", "warn_at")
DATETIMES = frozenset({"owned_since", "frozen_until", "recycle_due_at", "warn_at"})


@cache
def _sql(vendor: str, owner_null: bool, pool_null: bool, previous: bool) -> str:
    names = (*SET, "previous_owner") if previous else SET
    table, quoted = columns(Customer, *names)
    sets = ", ".join(f"{column} = %s" for column in quoted)
    owner = "owner_id IS NULL" if owner_null else "owner_id = %s"
    pool = "pool_id IS NULL" if pool_null else "pool_id = %s"
    return (
        f"UPDATE {table} SET {sets} WHERE id = %s AND status = %s AND {owner} AND {pool} "
        "AND merged_into_id IS NULL"
    )


def compare_and_set(
    customer_id: int,
    before: tuple[str, int | None, int | None],
    fields: dict[str, Any],
) -> bool:
    """Write ``fields`` (``ownership.move``'s new state, by attname) to the customer if it is
    still ``before`` (status, owner id, pool id) and not merged away; whether it was."""
    status, owner_id, pool_id = before
    previous = "previous_owner_id" in fields
    names: Sequence[str] = (*SET, "previous_owner") if previous else SET
    values: list[Any] = []
    for name in names:
        value = fields[name if name in DATETIMES or name == "status" else f"{name}_id"]
        values.append(db_time(value) if name in DATETIMES else value)
    values += [customer_id, status]
    values += [owner_id] if owner_id is not None else []
    values += [pool_id] if pool_id is not None else []
    sql = _sql(connection.vendor, owner_id is None, pool_id is None, previous)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return bool(cursor.rowcount == 1)


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


@cache
def _load_sql(vendor: str) -> str:
    selected = [
        column
        for alias, model in LOADED
        for column in raw_rows.column_names(model, alias, raw_rows.concrete_attnames(model))
    ]
    return (
        f"SELECT {', '.join(selected)} FROM {_table(Customer)} c "
        f"LEFT JOIN {_table(User)} o ON o.id = c.owner_id "
        f"LEFT JOIN {_table(Pool)} p ON p.id = c.pool_id "
        f"LEFT JOIN {_table(ClaimPolicy)} cp ON cp.pool_id = c.pool_id "
        f"LEFT JOIN {_table(RecyclePolicy)} rp ON rp.pool_id = c.pool_id "
        "WHERE c.id = %s AND c.merged_into_id IS NULL"
    )


def load_customer(customer_id: int) -> Customer | None:
    """The customer (``None`` when missing or merged away) with ``owner``, ``pool``,
    ``pool.claim_policy`` and ``pool.recycle_policy`` loaded (``None`` where absent)."""
    with connection.cursor() as cursor:
        cursor.execute(_load_sql(connection.vendor), [customer_id])
        found = cursor.fetchone()
    if found is None:
        return None
    loaded: dict[str, Any] = {}
    start = 0
    for alias, model in LOADED:
        names = raw_rows.concrete_attnames(model)
        values = found[start : start + len(names)]
        start += len(names)
        loaded[alias] = None if values[0] is None else raw_rows.instance(model, names, values)
    customer: Customer = loaded["c"]
    customer.owner = loaded["o"]
    pool: Pool | None = loaded["p"]
    if pool is not None:
        pool.claim_policy = loaded["cp"]
        pool.recycle_policy = loaded["rp"]
    customer.pool = pool
    return customer
