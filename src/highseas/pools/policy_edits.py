"""Changing a pool: who may change what, and the policy editor's save (API and web alike).

1. Admins create pools and change any of their fields.
2. A pool's admins who are managers change its claim and recycle policies only
   (``authority.may_edit_policies``); a request that names any other field is refused with
   ``permission_denied`` naming the fields, and changes nothing.
3. Everyone else is refused.
4. Per-level overrides name only ``LEVEL_OVERRIDE_KEYS``, whichever edge sends them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.visibility import Viewer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.authority import may_edit_policies
from highseas.pools.models import Pool
from highseas.pools.policies import level_override_errors, require_bounded_policies
from highseas.pools.services import save_pool

POLICY_FIELDS = frozenset({"claim_policy", "recycle_policy"})


def editable_pools(viewer: Viewer) -> QuerySet[Pool]:
    """Pools whose policies the viewer may change (the same rule as ``may_edit_policies``)."""
    if viewer.is_admin:
        return Pool.objects.all()
    if not viewer.user.is_manager:
        return Pool.objects.none()
    return Pool.objects.filter(pk__in=viewer.admin_pool_ids)


def require_pool_change(viewer: Viewer, pool: Pool | None, fields: Iterable[str]) -> None:
    """Refuse a create (``pool`` is ``None``) or a change of ``fields`` the viewer may not make."""
    if viewer.is_admin:
        return
    if pool is None or not may_edit_policies(viewer, pool):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("Only administrators and the pool's admins may change a pool's policies."),
        )
    others = sorted(set(fields) - POLICY_FIELDS)
    if others:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("Only administrators may change these fields of a pool: %(fields)s.")
            % {"fields": ", ".join(others)},
            fields=others,
        )


def require_valid_level_overrides(recycle_policy: dict[str, Any] | None) -> None:
    if not recycle_policy or "level_overrides" not in recycle_policy:
        return
    errors = level_override_errors(recycle_policy["level_overrides"])
    if errors:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Check the per-level overrides."),
            errors={"recycle_policy": {"level_overrides": errors}},
        )


def save_policies(
    viewer: Viewer,
    pool: Pool,
    *,
    claim_policy: dict[str, Any] | None,
    recycle_policy: dict[str, Any] | None,
) -> Pool:
    """Save a pool's claim and recycle policies for a viewer allowed to."""
    require_pool_change(viewer, pool, POLICY_FIELDS)
    require_valid_level_overrides(recycle_policy)
    require_bounded_policies(claim_policy, recycle_policy)
    return save_pool(
        pool, claim_policy=claim_policy, recycle_policy=recycle_policy, actor=viewer.user
    )


RELATIONS = ("member_teams", "member_users", "admins")


def change_pool(viewer: Viewer, pool: Pool | None, changes: dict[str, Any]) -> Pool:
    """Create a pool (``pool`` None) or change the named fields of one, for a viewer allowed
    to (rules 1–4): the pool, its policies and its members in one transaction."""
    require_pool_change(viewer, pool, changes)
    require_valid_level_overrides(changes.get("recycle_policy"))
    require_bounded_policies(changes.get("claim_policy"), changes.get("recycle_policy"))
    values = dict(changes)
    relations = {key: values.pop(key) for key in RELATIONS if key in values}
    claim_policy = values.pop("claim_policy", None)
    recycle_policy = values.pop("recycle_policy", None)
    pool = pool or Pool()
    for name, value in values.items():
        setattr(pool, name, value)
    return save_pool(
        pool,
        claim_policy=claim_policy,
        recycle_policy=recycle_policy,
        actor=viewer.user,
        **relations,
    )
