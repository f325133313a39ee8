"""Pools: creating and changing a pool with its policies and members; the default pool."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, User
from highseas.pools.models import ClaimPolicy, Pool, RecyclePolicy
from highseas.pools.recompute import start_recompute, walk

log = logging.getLogger("highseas.pools")


def _policies(pool: Pool) -> dict[str, Any]:
    """Both policies of a saved pool as plain JSON values (what the audit row keeps), without
    their ``updated_at``: every save moves it, a change or not."""
    found: dict[str, Any] = {}
    for name, model in (("claim_policy", ClaimPolicy), ("recycle_policy", RecyclePolicy)):
        row: Any = model.objects.filter(pool=pool).values().first() or {}
        kept = {k: v for k, v in row.items() if k not in ("id", "pool_id", "updated_at")}
        found[name] = json.loads(json.dumps(kept, cls=DjangoJSONEncoder))
    return found


def default_pool() -> Pool | None:
    return Pool.objects.filter(is_default=True).first()


def save_pool(
    pool: Pool,
    *,
    claim_policy: dict[str, Any] | None = None,
    recycle_policy: dict[str, Any] | None = None,
    member_teams: list[Any] | None = None,
    member_users: list[Any] | None = None,
    admins: list[Any] | None = None,
    actor: User | None = None,
) -> Pool:
    """Create or update a pool with its two policies and its members, in one transaction; a
    change of either policy of an existing pool is an audit row ``policy_change`` with the
    policies before and after, by ``actor``. When the recycle policy changed (or is new), the
    owned customers' schedules follow it in batches after that transaction
    (``pools.recompute``; in the caller's transaction, if there is one). A walk that loses a
    lock after the save is left to the periodic run, logged: the change itself is saved."""
    with transaction.atomic():
        if pool.pk and connection.features.has_select_for_update:
            # two saves of one pool one after the other: each compares the policies it
            # writes with those the other saved (read unlocked, a save could write back an
            # older policy as no change, and start no recompute). NO KEY, as the UPDATE
            # below: a claim's ledger row checks its key to the pool meanwhile
            Pool.objects.select_for_update(no_key=True).filter(pk=pool.pk).exists()
        before = _policies(pool) if pool.pk else {}
        pool.save()
        # the pool object then holds the policies just saved, not the rows it had cached before
        pool.claim_policy, _ = ClaimPolicy.objects.update_or_create(
            pool=pool, defaults=claim_policy or {}
        )
        pool.recycle_policy, _ = RecyclePolicy.objects.update_or_create(
            pool=pool, defaults=recycle_policy or {}
        )
        after = _policies(pool)
        if before and after != before:
            record_audit(
                actor,
                AuditLog.Action.POLICY_CHANGE,
                target_type="pool",
                target_id=pool.pk,
                before=before,
                after=after,
            )
        recycling_changed = before.get("recycle_policy") != after["recycle_policy"]
        if recycling_changed:
            start_recompute(pool.pk)
        if member_teams is not None:
            pool.member_teams.set(member_teams)
        if member_users is not None:
            pool.member_users.set(member_users)
        if admins is not None:
            pool.admins.set(admins)
    if recycling_changed:
        try:
            walk(pool.pk)
        except DatabaseError:
            if connection.in_atomic_block:
                raise  # the caller's transaction is broken: its caller must know
            log.warning(
                "pool %s: recomputing the schedules after a policy change lost a lock; the "
                "periodic run finishes it",
                pool.pk,
                exc_info=True,
            )
    return pool
