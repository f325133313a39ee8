"""What anyone signed in may learn about any customer (SPEC §8): the configured basic fields,
the public status, and who holds it. Public search, the duplicate check and the collision
error all answer with this, and with nothing else.

``public_rows`` reads exactly those columns in one statement (a join to the owner and the
pool), without building model instances: both callers are on hot paths.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import connection

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.pools.models import Pool

DEFAULT_PUBLIC_FIELDS = ("name", "province", "city", "industry", "level")
# Fields that may never be public, whatever the settings say.
PRIVATE_FIELDS = frozenset(
    {"phone", "email", "credit_code", "address", "custom_fields", "tags", "campaign"}
)


class PublicStatus(StrEnum):
    UNASSIGNED = "unassigned"
    OWNED = "owned"
    FROZEN = "frozen"
    RECYCLED = "recycled"


def public_fields() -> tuple[str, ...]:
    """``HIGHSEAS_PUBLIC_FIELDS`` without private fields or relations."""
    configured = getattr(settings, "HIGHSEAS_PUBLIC_FIELDS", DEFAULT_PUBLIC_FIELDS)
    plain = {f.name for f in Customer._meta.concrete_fields if not f.is_relation}
    return tuple(name for name in configured if name in plain and name not in PRIVATE_FIELDS)


def public_status(status: str, previous_owner_id: int | None) -> PublicStatus:
    """Pooled customers that had an owner before (released or recycled) are ``recycled``."""
    if status == CustomerStatus.FROZEN:
        return PublicStatus.FROZEN
    if status == CustomerStatus.OWNED:
        return PublicStatus.OWNED
    return PublicStatus.RECYCLED if previous_owner_id is not None else PublicStatus.UNASSIGNED


def public_view(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        **{name: getattr(customer, name) for name in public_fields()},
        "status": public_status(customer.status, customer.previous_owner_id).value,
    }


def public_rows(ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The public view of each customer, with ``holder``: the owner's display name, or the
    pool's name for a pooled customer."""
    if not ids:
        return {}
    names = public_fields()
    column_of = {field.name: field.column for field in Customer._meta.concrete_fields}
    columns = [column_of[name] for name in names]
    sql = (
        "SELECT c.id, "
        + "".join(f"c.{column}, " for column in columns)
        + "c.status, c.previous_owner_id, u.display_name, u.username, p.name "
        f"FROM {Customer._meta.db_table} c "
        f"LEFT JOIN {User._meta.db_table} u ON u.id = c.owner_id "
        f"LEFT JOIN {Pool._meta.db_table} p ON p.id = c.pool_id "
        f"WHERE c.id IN ({', '.join(['%s'] * len(ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(ids))
        rows = cursor.fetchall()
    found: dict[int, dict[str, Any]] = {}
    for customer_id, *values in rows:
        *basic, status, previous_owner_id, display_name, username, pool_name = values
        found[customer_id] = {
            "id": customer_id,
            **dict(zip(names, basic, strict=True)),
            "status": public_status(status, previous_owner_id).value,
            "holder": (display_name or username) if username else pool_name,
        }
    return found
