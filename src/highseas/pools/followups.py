"""Follow-ups, deals and contacts: writes that move a customer's recycle clock.

A follow-up or a deal outcome changes when the customer falls due, so each write locks the
customer row (``SELECT … FOR UPDATE``; SQLite's write transaction serializes anyway), applies
the change, and recomputes ``recycle_due_at`` / ``warn_at`` in the same transaction. A
concurrent sweep compares the due time it read, so it skips a customer touched meanwhile.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStage, DealStage
from highseas.customers.models import Activity, Contact, Customer, Deal
from highseas.engine.bounds import activity_errors, contact_errors, deal_errors, require_valid
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import followup_statements
from highseas.pools.authority import require_follow_up
from highseas.pools.models import DEFAULT_EFFECTIVE_KINDS
from highseas.pools.schedule import refresh_schedule

CLOCK_SKEW = timedelta(minutes=5)
UNCHANGED: Any = object()  # a field the caller did not send


def locked_customer(actor: User, customer_id: int) -> Customer:
    customer = (
        Customer.objects.select_for_update(of=("self",))
        .select_related("owner", "pool__recycle_policy", "pool__claim_policy")
        .filter(pk=customer_id)
        .first()
    )
    if customer is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    require_follow_up(Viewer(actor), customer)
    return customer


def effective_kinds(customer: Customer) -> list[str]:
    policy = getattr(customer.pool, "recycle_policy", None) if customer.pool else None
    return list(policy.effective_activity_kinds) if policy else list(DEFAULT_EFFECTIVE_KINDS)


@transaction.atomic
def log_activity(
    actor: User,
    customer_id: int,
    *,
    kind: str,
    occurred_at: datetime | None = None,
    note: str = "",
    outcome: str = "",
    next_contact_at: datetime | None = None,
    now: datetime | None = None,
) -> Activity:
    """Record a follow-up; an effective kind (per the pool) restarts the idle clock."""
    now = now or timezone.now()
    require_valid(
        activity_errors(
            {"note": note, "occurred_at": occurred_at, "next_contact_at": next_contact_at}
        )
    )
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("A follow-up cannot be in the future."),
            errors={"occurred_at": ["in the future"]},
        )
    fast = followup_statements.log_activity(
        actor,
        customer_id,
        kind=kind,
        occurred_at=occurred_at,
        note=note,
        outcome=outcome,
        next_contact_at=next_contact_at,
    )
    if fast is not None:  # the owner's own follow-up, as three precompiled statements
        return fast
    customer = locked_customer(actor, customer_id)
    activity = followup_statements.new_activity(
        actor,
        customer,
        kind=kind,
        occurred_at=occurred_at,
        note=note,
        outcome=outcome,
        next_contact_at=next_contact_at,
    )
    activity.save(force_insert=True)
    fields = followup_statements.mark_followed(
        customer, occurred_at, effective=kind in effective_kinds(customer)
    )
    customer.save(update_fields=fields)
    refresh_schedule(customer)
    return activity


@transaction.atomic
def open_deal(
    actor: User,
    customer_id: int,
    *,
    amount: Decimal,
    stage: str = "",
    name: str = "",
    expected_close: Any = None,
    contract_end: datetime | None = None,
    lost_reason: str = "",
    now: datetime | None = None,
) -> Deal:
    """Open a deal; one opened as won or lost is closed at once (a lost reason is only for
    a deal opened as lost)."""
    now = now or timezone.now()
    if lost_reason and stage != DealStage.LOST:
        require_valid({"lost_reason": ["only for a deal opened as lost"]})
    require_valid(
        deal_errors({"name": name, "expected_close": expected_close, "contract_end": contract_end})
    )
    customer = locked_customer(actor, customer_id)
    closing = stage in (DealStage.WON, DealStage.LOST)  # created open, then closed with dates
    deal = Deal.objects.create(
        customer=customer,
        amount=amount,
        name=name,
        stage=DealStage.QUALIFICATION if closing else stage or DealStage.QUALIFICATION,
        owner=customer.owner,
        expected_close=expected_close,
        contract_end=contract_end,
        created_at=now,
    )
    if closing:
        return close_deal(
            actor, customer_id, deal.pk, stage=stage, lost_reason=lost_reason, now=now
        )
    refresh_schedule(customer)
    return deal


@transaction.atomic
def close_deal(
    actor: User,
    customer_id: int,
    deal_id: int,
    *,
    stage: str,
    lost_reason: str = "",
    contract_end: Any = UNCHANGED,
    now: datetime | None = None,
) -> Deal:
    """Move a deal to a stage; won makes the customer a won customer (usually exempt from
    recycling, or back to its pool after the repurchase window), and either outcome changes
    the open-deal exemption. A deal already won stays won since its ``won_at``;
    ``contract_end`` (when given) replaces the deal's contract end."""
    now = now or timezone.now()
    if contract_end is not UNCHANGED:
        require_valid(deal_errors({"contract_end": contract_end}))
    customer = locked_customer(actor, customer_id)
    deal = Deal.objects.filter(pk=deal_id, customer=customer).first()
    if deal is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such deal."))
    still_won = deal.stage == DealStage.WON and stage == DealStage.WON and deal.won_at
    deal.stage = stage
    deal.won_at = (deal.won_at if still_won else now) if stage == DealStage.WON else None
    deal.lost_at = now if stage == DealStage.LOST else None
    deal.lost_reason = lost_reason if stage == DealStage.LOST else ""
    if contract_end is not UNCHANGED:
        deal.contract_end = contract_end
    deal.save(update_fields=["stage", "won_at", "lost_at", "lost_reason", "contract_end"])
    if stage == DealStage.WON and customer.stage != CustomerStage.WON:
        customer.stage = CustomerStage.WON
        customer.save(update_fields=["stage"])
    refresh_schedule(customer)
    return deal


@transaction.atomic
def add_contact(actor: User, customer_id: int, **fields: Any) -> Contact:
    require_valid(contact_errors({"name": "", **fields}))
    customer = locked_customer(actor, customer_id)
    return Contact.objects.create(customer=customer, **fields)
