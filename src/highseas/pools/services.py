"""Ownership services: the only code that writes a customer's ownership fields.

Each service is one transaction: the write, its ledger row, and notifications queued with
``on_commit``. Later work (claim, release, assign, transfer, freeze) joins this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.ownership import EventKind
from highseas.pools.ledger import record_event, state_of
from highseas.pools.models import ClaimPolicy, Pool, RecyclePolicy


def default_pool() -> Pool | None:
    return Pool.objects.filter(is_default=True).first()


@dataclass(frozen=True)
class CreatedCustomer:
    customer: Customer
    note: str = ""


@transaction.atomic
def create_customer(
    *,
    actor: User,
    fields: dict[str, Any],
    owner: User | None = None,
    pool: Pool | None = None,
    now: datetime | None = None,
) -> CreatedCustomer:
    """Create a customer owned by ``owner`` (or pooled in ``pool``), with its ledger row.

    1. The pool defaults to the default pool; a pooled customer needs one.
    2. The ``created`` ledger row records the resulting state and the actor.
    """
    now = now or timezone.now()
    pool = pool or default_pool()
    if owner is None and pool is None:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("A customer without an owner must be put in a pool."),
            errors={"pool": ["required"]},
        )
    status = CustomerStatus.OWNED if owner else CustomerStatus.POOLED
    customer = Customer.objects.create(
        **fields,
        created_by=actor,
        created_at=now,
        status=status,
        owner=owner,
        pool=pool,
        owned_since=now if owner else None,
    )
    reason = _("Registered by the owner") if owner == actor else _("Created")
    record_event(
        customer, EventKind.CREATED, None, state_of(customer), actor=actor, reason=reason, at=now
    )
    return CreatedCustomer(customer)


@transaction.atomic
def save_pool(
    pool: Pool,
    *,
    claim_policy: dict[str, Any] | None = None,
    recycle_policy: dict[str, Any] | None = None,
    member_teams: list[Any] | None = None,
    member_users: list[Any] | None = None,
    admins: list[Any] | None = None,
) -> Pool:
    """Create or update a pool with its two policies and its members."""
    pool.save()
    ClaimPolicy.objects.update_or_create(pool=pool, defaults=claim_policy or {})
    RecyclePolicy.objects.update_or_create(pool=pool, defaults=recycle_policy or {})
    if member_teams is not None:
        pool.member_teams.set(member_teams)
    if member_users is not None:
        pool.member_users.set(member_users)
    if admins is not None:
        pool.admins.set(admins)
    return pool
