"""Where a recycled customer goes: back to its pool, to another pool, or to the manager's
reassign queue of its pool (a pool only its admins and the member teams' managers see)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q

from highseas.accounts.models import User
from highseas.pools.models import Pool, RecycleDestination, RecyclePolicy


def queue_name(pool: Pool) -> str:
    return f"{pool.name}·待分配"


def reassign_queue(pool: Pool) -> Pool:
    """The pool's reassign queue, created on first use; safe when two sweeps race."""
    existing = Pool.objects.filter(queue_of=pool).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            queue = Pool.objects.create(
                name=queue_name(pool),
                is_reassign_queue=True,
                queue_of=pool,
                masked_fields=list(pool.masked_fields),
            )
    except IntegrityError:
        return Pool.objects.get(queue_of=pool)
    managers = User.objects.filter(
        Q(administered_pools=pool) | Q(managed_teams__in=pool.member_teams.all())
    ).distinct()
    queue.admins.set(managers)
    return queue


def destination_pool_id(pool: Pool, policy: RecyclePolicy | None, *, create: bool) -> int | None:
    """The pool a customer recycled from ``pool`` lands in. Without ``create`` a reassign
    queue that does not exist yet is reported as ``None`` (a preview writes nothing)."""
    if policy is None or policy.destination == RecycleDestination.SAME_POOL:
        return pool.pk
    if policy.destination == RecycleDestination.OTHER_POOL:
        return policy.destination_pool_id or pool.pk
    queue = Pool.objects.filter(queue_of=pool).values_list("pk", flat=True).first()
    if queue is None and create:
        return reassign_queue(pool).pk
    return queue
