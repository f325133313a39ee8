"""Reads for the pages, every one starting from the viewer's visible customers (``Viewer``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStage, CustomerStatus
from highseas.customers.models import Activity, Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.models import Notification
from highseas.pools.listing import listable_pools as listable_pools  # pages read it here
from highseas.pools.policy_edits import editable_pools
from highseas.pools.views_quota import open_customer
from highseas.web.present import CustomerView, present

HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)
OPTIONS_SECONDS = 600
VISIBLE_COUNT_SECONDS = 300
DUE_SOON_DAYS = 7  # the home card, its list and the my-customers tab count the same
OVERDUE_DAYS = 30


def visible_customer(viewer: Viewer, customer_id: int) -> Customer:
    """The customer if the viewer may see it at all; otherwise a 404, never a 403, so that a
    customer's existence does not leak."""
    customer = viewer.customers().filter(pk=customer_id).first()
    if customer is None:
        raise Http404
    return customer


def opened_customer(viewer: Viewer, customer_id: int, now: datetime) -> Customer:
    """The customer page's customer: the pool view limit's door decides (it counts a rep's
    opening of a pooled customer); an unseen customer stays a 404."""
    try:
        return open_customer(viewer, customer_id, now=now)
    except HighSeasError as refusal:
        if refusal.code is ErrorCode.NOT_FOUND:
            raise Http404 from refusal
        raise


def editable_pool_ids(viewer: Viewer) -> set[int]:
    """Pools whose policies the viewer may change (``pools.policy_edits``, as in the API)."""
    return set(editable_pools(viewer).values_list("pk", flat=True))


def pool_options(pool_id: int) -> dict[str, Any]:
    """Values offered in the pool list filters (cached briefly: they change slowly)."""

    def load() -> dict[str, Any]:
        pooled = Customer.objects.filter(pool_id=pool_id, status=CustomerStatus.POOLED)
        regions = pooled.exclude(province="").values_list("province", "city").distinct()
        cities: dict[str, set[str]] = {}
        for province, city in regions:
            cities.setdefault(province, set()).update([city] if city else [])
        industries = pooled.exclude(industry="").values_list("industry", flat=True).distinct()
        return {
            "provinces": sorted(cities),
            "cities": {key: sorted(value) for key, value in cities.items()},
            "industries": sorted(set(industries)),
        }

    options = cache.get_or_set(f"web:pool-options:{pool_id}", load, OPTIONS_SECONDS)
    return options if isinstance(options, dict) else load()


@dataclass(frozen=True)
class Page:
    rows: list[CustomerView]
    next_cursor: int | None
    prev_cursor: int | None
    is_first: bool


def keyset_page(
    customers: QuerySet[Customer], *, after: int | None, before: int | None, size: int
) -> tuple[list[Customer], int | None, int | None]:
    """One page of customers, newest first, by id cursors (no OFFSET, so page 1,000 costs what
    page 1 costs). Returns the rows and the cursors of the next and previous pages."""
    if before is not None:
        chunk = list(customers.filter(pk__gt=before).order_by("pk")[: size + 1])
        rows = list(reversed(chunk[:size]))
        prev_cursor = rows[0].pk if len(chunk) > size else None
        return rows, (rows[-1].pk if rows else None), prev_cursor
    if after is not None:
        customers = customers.filter(pk__lt=after)
    chunk = list(customers.order_by("-pk")[: size + 1])
    rows = chunk[:size]
    next_cursor = rows[-1].pk if len(chunk) > size else None
    prev_cursor = rows[0].pk if after is not None and rows else None
    return rows, next_cursor, prev_cursor


def warned_ids(customers: Sequence[Customer], now: datetime) -> set[int]:
    """Customers whose owner has been warned for the current due time: ``warn_at`` has passed,
    or the sweep already sent the warning (it clears ``warn_at`` once it has)."""
    warned = {c.pk for c in customers if c.warn_at is not None and c.warn_at <= now}
    keys = {
        f"recycle_warning:{c.pk}:{c.recycle_due_at.isoformat()}": c.pk
        for c in customers
        if c.recycle_due_at is not None and c.pk not in warned
    }
    if keys:
        sent = Notification.objects.filter(dedupe_key__in=list(keys)).values_list(
            "dedupe_key", flat=True
        )
        warned.update(keys[key] for key in sent if key)
    return warned


def present_all(viewer: Viewer, customers: Sequence[Customer], now: datetime) -> list[CustomerView]:
    warned = warned_ids(customers, now)
    return [present(viewer, c, now, is_warned=c.pk in warned) for c in customers]


def page_of(
    viewer: Viewer,
    customers: QuerySet[Customer],
    now: datetime,
    *,
    after: int | None,
    before: int | None,
    size: int = 25,
) -> Page:
    rows, next_cursor, prev_cursor = keyset_page(customers, after=after, before=before, size=size)
    return Page(
        present_all(viewer, rows, now),
        next_cursor,
        prev_cursor,
        is_first=after is None and (before is None or prev_cursor is None),
    )


def my_customers(viewer: Viewer) -> QuerySet[Customer]:
    """The viewer's own customers, the soonest to be recycled first."""
    return (
        viewer.customers()
        .filter(owner=viewer.user, status__in=HELD)
        .order_by(F("recycle_due_at").asc(nulls_last=True), "pk")
    )


def visible_count(viewer: Viewer) -> int:
    """How many customers the viewer sees: a count over the pools they belong to (hundreds of
    thousands of rows at scale), so cached for ``VISIBLE_COUNT_SECONDS``; the lists it leads
    to are exact."""
    key = f"web:visible-count:{viewer.user.pk}"
    count = cache.get_or_set(key, lambda: viewer.customers().count(), VISIBLE_COUNT_SECONDS)
    return count if isinstance(count, int) else viewer.customers().count()


def holding_counts(viewer: Viewer) -> dict[str, int]:
    counts: dict[str, int] = viewer.user.customers.aggregate(
        holdings=Count("id"),
        frozen=Count("id", filter=Q(status=CustomerStatus.FROZEN)),
        won=Count("id", filter=Q(stage=CustomerStage.WON)),
    )
    return counts


def due_within(viewer: Viewer, now: datetime, days: int) -> QuerySet[Customer]:
    return my_customers(viewer).filter(recycle_due_at__lte=now + timedelta(days=days))


def _planned_contacts(user: User) -> QuerySet[Activity]:
    """Planned next contacts on the user's own customers; a plan is shown only while it is
    the customer's latest follow-up's plan."""
    return (
        Activity.objects.filter(
            customer__owner=user,
            next_contact_at__isnull=False,
            customer__last_activity_at=F("occurred_at"),
        )
        .select_related("customer")
        .order_by("next_contact_at")
    )


def upcoming_contacts(user: User, now: datetime, days: int) -> QuerySet[Activity]:
    """Planned contacts from now to ``days`` ahead (overdue ones are ``overdue_contacts``)."""
    return _planned_contacts(user).filter(
        next_contact_at__gte=now, next_contact_at__lte=now + timedelta(days=days)
    )


def overdue_contacts(user: User, now: datetime) -> QuerySet[Activity]:
    """Planned contacts whose time has passed, in the last ``OVERDUE_DAYS``."""
    return _planned_contacts(user).filter(
        next_contact_at__lt=now, next_contact_at__gte=now - timedelta(days=OVERDUE_DAYS)
    )


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def visible_ids(viewer: Viewer, ids: Iterable[int]) -> set[int]:
    wanted = list(set(ids))
    if not wanted:
        return set()
    return set(viewer.customers().filter(pk__in=wanted).values_list("pk", flat=True))
