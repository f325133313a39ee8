"""The deal pipeline: deals by stage for a viewer, and the edits of a deal's amount and
expected close. Moving a deal between stages is ``pools.followups.close_deal`` (the same
door as the API's ``PATCH deals/{id}/``), which keeps the customer and its recycle clock in
step.

Whose deals a board shows (the customers the viewer sees in full, ``Viewer``):
1. a rep: the deals of the customers they own;
2. a manager: those of customers owned by anyone in their team subtree (and their own);
3. an admin: every owned customer's deals.
Open stages show every deal; won and lost show those closed in the last ``CLOSED_DAYS``.
A pooled customer's deals are on nobody's board until someone owns it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import DealStage
from highseas.customers.models import Deal
from highseas.engine.bounds import deal_errors, require_valid
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.followups import locked_customer

CLOSED_DAYS = 30
OPEN_STAGES = (DealStage.QUALIFICATION, DealStage.PROPOSAL, DealStage.NEGOTIATION)
BOARD_STAGES = (*OPEN_STAGES, DealStage.WON, DealStage.LOST)
EDITABLE = ("name", "amount", "expected_close")
PER_COLUMN = 200


@dataclass
class Column:
    stage: str
    label: str
    deals: list[Deal] = field(default_factory=list)
    total: Decimal = Decimal(0)
    count: int = 0


def board_deals(viewer: Viewer, *, owner_id: int | None = None) -> QuerySet[Deal]:
    """Rules 1–3: the deals on the viewer's board (of one owner, when given and in reach)."""
    deals = Deal.objects.select_related("customer", "customer__owner").filter(
        customer__merged_into__isnull=True, customer__owner__isnull=False
    )
    if not viewer.is_admin:
        reach = Q(customer__owner=viewer.user)
        if viewer.subtree_team_ids:
            reach |= Q(customer__owner__team_id__in=viewer.subtree_team_ids)
        deals = deals.filter(reach)
    return deals.filter(customer__owner_id=owner_id) if owner_id else deals


def board(
    viewer: Viewer, *, owner_id: int | None = None, now: datetime | None = None
) -> list[Column]:
    """The viewer's deals by stage, each column with its count and total amount."""
    since = (now or timezone.now()) - timedelta(days=CLOSED_DAYS)
    deals = board_deals(viewer, owner_id=owner_id).filter(
        Q(stage__in=OPEN_STAGES) | Q(won_at__gte=since) | Q(lost_at__gte=since)
    )
    columns = {stage: Column(stage.value, str(stage.label)) for stage in BOARD_STAGES}
    for deal in deals.order_by("expected_close", "-created_at"):
        column = columns[DealStage(deal.stage)]
        column.count += 1
        column.total += deal.amount
        if len(column.deals) < PER_COLUMN:
            column.deals.append(deal)
    return list(columns.values())


def board_owners(viewer: Viewer) -> list[User]:
    """The owners whose deals the viewer's board can show, for a manager's filter."""
    ids = board_deals(viewer).values_list("customer__owner_id", flat=True).distinct()
    return list(User.objects.filter(pk__in=ids).select_related("team").order_by("username"))


def _cleaned(deal: Deal, changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(name for name in changes if name not in EDITABLE)
    if unknown:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Some fields cannot be edited."),
            errors={name: ["not an editable field"] for name in unknown},
        )
    cleaned, errors = {}, {}
    for name, value in changes.items():
        try:
            cleaned[name] = Deal._meta.get_field(name).clean(value, deal)  # type: ignore[union-attr]
        except ValidationError as exc:
            errors[name] = [str(message) for message in exc.messages]
    if "amount" in cleaned and cleaned["amount"] is not None and cleaned["amount"] < 0:
        errors["amount"] = ["at least 0"]
    if errors:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR, _("Some fields are not valid."), errors=errors
        )
    return {name: value for name, value in cleaned.items() if getattr(deal, name) != value}


@transaction.atomic
def edit_deal(viewer: Viewer, customer_id: int, deal_id: int, changes: Mapping[str, Any]) -> Deal:
    """Change a deal's name, amount or expected close: the owner of its customer or a manager
    above them (as for opening a deal). The stage moves through ``close_deal`` only."""
    require_valid(
        deal_errors({k: v for k, v in changes.items() if k in ("name", "expected_close")})
    )
    customer = locked_customer(viewer.user, customer_id)
    deal = Deal.objects.filter(pk=deal_id, customer=customer).first()
    if deal is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such deal."))
    changed = _cleaned(deal, changes)
    for name, value in changed.items():
        setattr(deal, name, value)
    if changed:
        deal.save(update_fields=sorted(changed))
    return deal
