"""What anyone signed in may learn about any customer (SPEC §8): the configured basic fields,
the public status, and who holds it. Public search, the duplicate check and the collision
error all answer with this, and with nothing else.

``public_rows`` reads exactly those columns in one statement (a join to the owner and the
pool), without building model instances: both callers are on hot paths.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext_lazy, pgettext_lazy

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStage, CustomerStatus
from highseas.customers.models import Customer, PublicSearchSettings
from highseas.pools.models import Pool

DEFAULT_PUBLIC_FIELDS = ("name", "province", "city", "industry", "level")
PROSPECTS, PROSPECTS_AND_WON = "prospects", "prospects_and_won"
SCOPES = (PROSPECTS, PROSPECTS_AND_WON)
# Fields that may never be public, whatever the settings say.
PRIVATE_FIELDS = frozenset(
    {"phone", "email", "credit_code", "address", "custom_fields", "tags", "campaign"}
)
# Bookkeeping columns, never offered: keys, ownership times, merge marks.
NEVER_PUBLIC = frozenset(
    {
        "id",
        "phone_key",
        "email_key",
        "credit_key",
        "name_key",
        "owned_since",
        "frozen_until",
        "recycle_due_at",
        "warn_at",
        "last_effective_activity_at",
        "last_activity_at",
        "merged_at",
        "updated_at",
        "status",
    }
)


class PublicStatus(StrEnum):
    UNASSIGNED = "unassigned"
    OWNED = "owned"
    FROZEN = "frozen"
    RECYCLED = "recycled"


def allowed_fields() -> tuple[str, ...]:
    """The customer fields that may be made public: plain columns, never a private one."""
    return tuple(
        f.name
        for f in Customer._meta.concrete_fields
        if not f.is_relation and f.name not in PRIVATE_FIELDS and f.name not in NEVER_PUBLIC
    )


@dataclass(frozen=True)
class PublicSettings:
    fields: tuple[str, ...]
    scope: str  # ``prospects`` or ``prospects_and_won``
    statuses: tuple[PublicStatus, ...]  # the statuses a search lists

    @property
    def prospects_only(self) -> bool:
        return self.scope == PROSPECTS


def _defaults() -> PublicSettings:
    """The deployment's settings (``HIGHSEAS_PUBLIC_FIELDS``, ``HIGHSEAS_PUBLIC_SEARCH_SCOPE``),
    or the built-in defaults: what applies until an admin saves the settings."""
    fields = getattr(settings, "HIGHSEAS_PUBLIC_FIELDS", DEFAULT_PUBLIC_FIELDS)
    scope = getattr(settings, "HIGHSEAS_PUBLIC_SEARCH_SCOPE", PROSPECTS_AND_WON)
    return PublicSettings(tuple(fields), scope, tuple(PublicStatus))


def public_settings() -> PublicSettings:
    """The settings in the database (``PublicSearchSettings``) win over the deployment's;
    unknown or private fields and unknown statuses are dropped whatever their source."""
    row = PublicSearchSettings.objects.order_by("pk").first()
    chosen = (
        PublicSettings(tuple(row.fields), row.scope, tuple(row.statuses))
        if row is not None
        else _defaults()
    )
    allowed = allowed_fields()
    return PublicSettings(
        tuple(name for name in chosen.fields if name in allowed),
        chosen.scope if chosen.scope in SCOPES else PROSPECTS_AND_WON,
        tuple(s for s in PublicStatus if s in chosen.statuses),
    )


def public_fields() -> tuple[str, ...]:
    return public_settings().fields


def search_scope() -> str:
    """``prospects`` (won customers are left out of public search) or ``prospects_and_won``."""
    return public_settings().scope


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


def public_card(customer_id: int) -> dict[str, Any] | None:
    """What anyone signed in may learn about one customer on its page: its public view, who
    holds it (the owner's display name and team, or the pool) and nothing else. ``None`` when
    public search would not list it (merged away, out of scope, a status not shown)."""
    customer = (
        Customer.objects.select_related("owner__team", "pool")
        .filter(pk=customer_id, merged_into__isnull=True)
        .first()
    )
    if customer is None:
        return None
    current = public_settings()
    status = public_status(customer.status, customer.previous_owner_id)
    if status not in current.statuses or (
        current.prospects_only and customer.stage == CustomerStage.WON
    ):
        return None
    owner = customer.owner
    return {
        "id": customer.pk,
        **{name: getattr(customer, name) for name in current.fields},
        "status": status.value,
        "holder": owner.label if owner else (customer.pool.name if customer.pool else ""),
        "team": owner.team.name if owner and owner.team else "",
    }


STATUS_LABELS = {
    PublicStatus.UNASSIGNED: pgettext_lazy("public status", "Unassigned"),
    PublicStatus.OWNED: pgettext_lazy("public status", "Assigned"),
    PublicStatus.FROZEN: pgettext_lazy("public status", "Frozen"),
    PublicStatus.RECYCLED: pgettext_lazy("public status", "Recycled by the system"),
}
SCOPE_LABELS = {
    PROSPECTS: gettext_lazy("Prospects only"),
    PROSPECTS_AND_WON: gettext_lazy("Prospects and won customers"),
}
