"""Pool view limits (防捞取): how many pooled customers a rep may open in detail per day.

``open_customer`` is the one door for a customer's detail (the API's ``GET customers/{id}/``
and the web's customer page):

1. a customer the viewer may not see at all is ``not_found``;
2. only reps are limited, and only for a customer sitting in a pool (``pooled``) whose claim
   policy sets ``daily_view_limit``; managers and admins, a rep's own or visible owned
   customers, and pools without a limit are never counted;
3. a rep's opening counts once per customer per org-calendar day (``engine.periods.day_start``
   in the default time zone); re-opening a customer counted today is free;
4. the count and the new ``CustomerView`` row are one transaction under the rep's lock
   (``facts.lock_reps``), so concurrent openings cannot pass the limit; past it the opening
   is refused with ``view_quota_exceeded`` (facts ``used``, ``limit``), reveals nothing and
   leaves no row.

The pool list does not count; ``views_left`` tells it what remains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.periods import day_start
from highseas.pools import facts
from highseas.pools.models import ClaimPolicy, CustomerView


@dataclass(frozen=True)
class ViewStanding:
    limit: int
    used: int

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)


def _limited(viewer: Viewer) -> bool:
    return not viewer.is_manager_or_admin


def _limit_of(pool_id: int | None) -> int | None:
    if pool_id is None:
        return None
    return (
        ClaimPolicy.objects.filter(pool_id=pool_id)
        .values_list("daily_view_limit", flat=True)
        .first()
    )


def _today(now: datetime) -> datetime:
    return day_start(now, timezone.get_default_timezone())


def _used(user: User, pool_id: int, day: datetime) -> int:
    return CustomerView.objects.filter(viewer=user, pool_id=pool_id, day=day).count()


def open_customer(viewer: Viewer, customer_id: int, *, now: datetime | None = None) -> Customer:
    """The customer's detail for the viewer, counted against the pool's daily view limit."""
    now = now or timezone.now()
    customer = viewer.customers().filter(pk=customer_id).first()
    if customer is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    if not _limited(viewer) or customer.status != CustomerStatus.POOLED:
        return customer
    limit = _limit_of(customer.pool_id)
    if limit is None or customer.pool_id is None:
        return customer
    day = _today(now)
    with transaction.atomic():
        facts.lock_reps(viewer.user.pk)
        today = CustomerView.objects.filter(viewer=viewer.user, day=day)
        if today.filter(customer=customer).exists():
            return customer
        used = _used(viewer.user, customer.pool_id, day)
        if used >= limit:
            raise HighSeasError(
                ErrorCode.VIEW_QUOTA_EXCEEDED,
                _("You have opened as many pool customers today as this pool allows."),
                used=used,
                limit=limit,
            )
        CustomerView.objects.create(
            viewer=viewer.user, customer=customer, pool_id=customer.pool_id, day=day, opened_at=now
        )
    return customer


def views_left(viewer: Viewer, pool_id: int, *, now: datetime | None = None) -> ViewStanding | None:
    """The viewer's standing against the pool's daily view limit; ``None`` when unlimited."""
    limit = _limit_of(pool_id)
    if limit is None or not _limited(viewer):
        return None
    return ViewStanding(
        limit=limit, used=_used(viewer.user, pool_id, _today(now or timezone.now()))
    )
