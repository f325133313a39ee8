"""Registering a new customer: who may receive it, decided once for every adapter.

``register_customer(viewer, fields, owner=…, pool=…)`` is the door the API and the web use:

1. the named pool must be one the viewer is a member of (``not_pool_member``);
2. a rep registers customers for themselves only: naming anyone else is ``permission_denied``;
   naming nobody makes the rep the owner;
3. a manager may name themselves or an active user in their subtree, an admin any active user
   (``pools.authority.require_receiver``: ``validation_error`` for an inactive user,
   ``permission_denied`` outside the subtree); naming nobody leaves the customer pooled;
4. a new customer is not registered as won: that follows only from a won deal
   (``pools.editing.require_won_deal``);
5. the customer is then created by ``intake.creation.create_customer`` (duplicate screening,
   holding cap, ledger row, assignment rules);
6. the answer holds the customer only if the viewer may see it now: the assignment rules may
   have given it to someone the viewer does not see. Then it holds the customer's public view
   (``customers.public``: basic fields, public status, holder) instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.customers.public import public_rows
from highseas.engine.bounds import customer_errors, require_valid
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake.creation import create_customer
from highseas.pools.authority import is_member, require_receiver
from highseas.pools.editing import require_won_deal
from highseas.pools.models import Pool


@dataclass(frozen=True)
class Receiver:
    owner: User | None
    pool: Pool | None


def may_name_owner(viewer: Viewer) -> bool:
    """Managers and admins may name the owner of a customer they register."""
    return viewer.is_admin or bool(viewer.user.is_manager)


def receiver_for(viewer: Viewer, *, owner: User | None, pool: Pool | None) -> Receiver:
    """Who receives a customer the viewer registers (steps 1–3 of the module)."""
    if pool is not None and not is_member(viewer, pool.pk):
        raise HighSeasError(
            ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."), pool=pool.pk
        )
    if not may_name_owner(viewer):
        if owner is not None and owner.pk != viewer.user.pk:
            raise HighSeasError(
                ErrorCode.PERMISSION_DENIED, _("A rep registers customers for themselves only.")
            )
        return Receiver(viewer.user, pool)
    if owner is not None and owner.pk != viewer.user.pk:
        require_receiver(viewer, owner)
    return Receiver(owner, pool)


@dataclass(frozen=True)
class Registered:
    """A registration as the viewer may see it: ``customer`` when they see it, else only its
    ``public`` view."""

    name: str
    customer: Customer | None
    public: dict[str, Any] | None
    note: str = ""
    warnings: list[dict[str, Any]] = field(default_factory=list)


def register_customer(
    viewer: Viewer,
    fields: dict[str, Any],
    *,
    owner: User | None = None,
    pool: Pool | None = None,
    entry_point: str = "api",
    now: datetime | None = None,
) -> Registered:
    receiver = receiver_for(viewer, owner=owner, pool=pool)
    require_valid(customer_errors(fields))
    require_won_deal(None, fields.get("stage"))
    created = create_customer(
        actor=viewer.user,
        fields=fields,
        owner=receiver.owner,
        pool=receiver.pool,
        entry_point=entry_point,
        now=now,
    )
    pk = created.customer.pk
    visible = viewer.customers().filter(pk=pk).first()
    return Registered(
        name=created.customer.name,
        customer=visible,
        public=None if visible else public_rows([pk]).get(pk),
        note=created.note,
        warnings=created.warnings,
    )
