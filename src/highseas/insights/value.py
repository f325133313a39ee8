"""Customer value: a score from won-deal history mapped to level A/B/C (SPEC §10,
``POST /api/v1/insights/rescore/``).

The score is ``engine.insights.value_score`` over the customer's deals won in the
``HIGHSEAS_VALUE_WINDOW_DAYS`` days before ``now`` (default 365; any owner's deals count: it
is the customer's history), with the monetary half-point ``HIGHSEAS_VALUE_MONETARY_HALF``
(default 100000 yuan); the level follows from ``HIGHSEAS_VALUE_THRESHOLDS`` (default
``{"A": 60, "B": 30}``). A customer without a win in the window scores 0 and is C.

Who may rescore: admins (every customer) and managers (the customers held by their team
subtree); reps are refused. Each level change goes through the customer edit service
(``pools.editing.edit_customer``): the viewer's permission is checked again on the locked
row, the change is audit-logged with before and after, and the recycle schedule is
recomputed, all in the rescore's one transaction. A dry run computes the same changes and
writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, QuerySet, Sum
from django.utils.translation import gettext as _

from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.insights import DEFAULT_THRESHOLDS, WinHistory, level_for, value_score
from highseas.pools.editing import edit_customer

HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)


def thresholds() -> Mapping[str, float]:
    configured = getattr(settings, "HIGHSEAS_VALUE_THRESHOLDS", None) or DEFAULT_THRESHOLDS
    return {"A": float(configured["A"]), "B": float(configured["B"])}


def window_days() -> int:
    return int(getattr(settings, "HIGHSEAS_VALUE_WINDOW_DAYS", 365))


def monetary_half() -> Decimal:
    return Decimal(str(getattr(settings, "HIGHSEAS_VALUE_MONETARY_HALF", 100_000)))


def rescored_customers(viewer: Viewer) -> QuerySet[Customer]:
    """The customers the viewer may rescore; a rep may not rescore."""
    if viewer.is_admin:
        return Customer.objects.filter(merged_into__isnull=True)
    if viewer.user.is_manager:
        return Customer.objects.filter(
            merged_into__isnull=True,
            status__in=HELD,
            owner__team_id__in=viewer.subtree_team_ids,
        )
    raise HighSeasError(
        ErrorCode.PERMISSION_DENIED, _("Only a manager or an admin may re-evaluate levels.")
    )


def histories(customers: QuerySet[Customer], now: datetime) -> dict[int, WinHistory]:
    """Per customer with a win in the window: wins, amount and days since the last win."""
    rows = (
        Deal.objects.filter(
            customer__in=customers,
            stage=DealStage.WON,
            won_at__gt=now - timedelta(days=window_days()),
            won_at__lte=now,
        )
        .values_list("customer_id")
        .annotate(wins=Count("id"), amount=Sum("amount"), last=Max("won_at"))
    )
    return {
        customer: WinHistory(wins, amount, (now - last).total_seconds() / 86400)
        for customer, wins, amount, last in rows
    }


def scored_changes(viewer: Viewer, now: datetime) -> list[dict[str, Any]]:
    """The level each customer in scope would get, where it differs from the stored one."""
    customers = rescored_customers(viewer)
    wins = histories(customers, now)
    limits, days, half = thresholds(), window_days(), monetary_half()
    changes = []
    for customer_id, level in customers.order_by("id").values_list("id", "level"):
        score = value_score(
            wins.get(customer_id, WinHistory()), window_days=days, monetary_half=half
        )
        target = level_for(score, limits)
        if target != level:
            changes.append({"customer": customer_id, "from": level, "to": target, "score": score})
    return changes


def rescore(viewer: Viewer, *, now: datetime, dry_run: bool = False) -> dict[str, Any]:
    """Re-evaluate value → level for the customers in scope; returns ``{changes: [...]}``."""
    if dry_run:
        return {"dry_run": True, "changes": scored_changes(viewer, now)}
    with transaction.atomic():
        changes = scored_changes(viewer, now)
        for change in changes:
            edit_customer(viewer, change["customer"], {"level": change["to"]})
    return {"dry_run": False, "changes": changes}
