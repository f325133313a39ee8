"""Where a recycled customer goes: back to its pool, to another pool, or to the manager's
reassign queue of its pool (a pool only its admins and the member teams' managers see)."""

from __future__ import annotations

from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.notify.services import notify
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


def home_pool_id(pool: Pool) -> int:
    """Where a customer given out of ``pool`` belongs: a reassign queue's origin pool (the
    queue has no recycle policy), else the pool itself."""
    if pool.is_reassign_queue and pool.queue_of_id is not None:
        return pool.queue_of_id
    return pool.pk


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


def tell_queue_admins(arrivals: list[tuple[int | None, str]]) -> None:
    """Tell each reassign queue's admins what arrived in it: one notification per queue for
    ``arrivals`` (``(pool id, customer name)`` of one sweep batch); other pools are skipped."""
    by_pool: dict[int, list[str]] = defaultdict(list)
    for pool_id, name in arrivals:
        if pool_id is not None:
            by_pool[pool_id].append(name)
    queues = Pool.objects.filter(pk__in=by_pool, is_reassign_queue=True).order_by("pk")
    for queue in queues.prefetch_related("admins"):
        names = by_pool[queue.pk]
        title = _("%(count)s customers arrived in %(queue)s") % {
            "count": len(names),
            "queue": queue.name,
        }
        body = "、".join(names[:5]) + ("…" if len(names) > 5 else "")
        for admin in queue.admins.all():
            if admin.is_active:
                notify(admin.pk, "reassign_queue", title, body)
