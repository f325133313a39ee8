"""The customer page's answers to "why is this mine?" and "when will it be recycled?".

Both are read from what the services recorded: the ledger row that gave the customer to its
owner, and the schedule the engine computes from the pool's recycle policy (the same function
the services use to set ``recycle_due_at``). Nothing here decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _

from highseas.customers.models import Customer
from highseas.engine.ownership import Status
from highseas.pools.leave import LeaveNote, leave_note
from highseas.pools.models import OwnershipEvent, RecycleDestination, RecyclePolicy
from highseas.pools.reasons import RECYCLE_TEMPLATES
from highseas.pools.schedule import schedule_for
from highseas.web.present import actor_label, event_label

GAINS = ("created", "claimed", "assigned", "transferred")

# The sweep's reasons, by recycle rule (the ledger's codes)
RULE_REASONS = RECYCLE_TEMPLATES


@dataclass(frozen=True)
class Acquisition:
    kind: str
    label: str
    at: datetime
    actor: str
    from_owner: str
    from_pool: str
    reason: str


@dataclass(frozen=True)
class RecycleExplanation:
    due_at: datetime | None
    rule_text: str
    frozen_until: datetime | None
    policy_lines: list[str] = field(default_factory=list)
    exemptions: list[str] = field(default_factory=list)
    destination: str = ""
    leave: LeaveNote | None = None  # the owner is on leave today: paused, or covered


def acquisition(customer: Customer) -> Acquisition | None:
    """The ledger row that made the current owner the owner."""
    if customer.owner_id is None:
        return None
    event = (
        OwnershipEvent.objects.filter(
            customer=customer, to_owner_id=customer.owner_id, kind__in=GAINS
        )
        .select_related("actor", "from_owner", "from_pool")
        .order_by("-id")
        .first()
    )
    if event is None:
        return None
    return Acquisition(
        kind=event.kind,
        label=event_label(event.kind),
        at=event.at,
        actor=actor_label(event.actor.label if event.actor else None, event.actor_label),
        from_owner=event.from_owner.label if event.from_owner else "",
        from_pool=event.from_pool.name if event.from_pool else "",
        reason=event.reason_text,
    )


def _policy_lines(policy: RecyclePolicy) -> list[str]:
    lines = []
    if policy.idle_days is not None:
        lines.append(
            _("Recycled after %(n)s days without an effective follow-up") % {"n": policy.idle_days}
        )
    if policy.no_deal_days is not None:
        lines.append(
            _("Recycled when no deal is won within %(n)s days of ownership")
            % {"n": policy.no_deal_days}
        )
    if policy.first_contact_hours is not None:
        lines.append(
            _("First follow-up due within %(n)s hours of taking the customer")
            % {"n": policy.first_contact_hours}
        )
    if policy.won_repurchase_days is not None:
        lines.append(
            _("Won customers return %(n)s days after their last contract ends without a renewal")
            % {"n": policy.won_repurchase_days}
        )
    if policy.warn_days is not None:
        lines.append(_("The owner is warned %(n)s days before") % {"n": policy.warn_days})
    return lines


def _exemptions(policy: RecyclePolicy) -> list[str]:
    found = []
    if policy.exempt_won and policy.won_repurchase_days is None:
        found.append(_("won customers"))
    if policy.exempt_open_deal:
        found.append(_("customers with an open deal"))
    found.extend(_("level %(level)s") % {"level": level} for level in policy.exempt_levels)
    return found


def _destination(policy: RecyclePolicy) -> str:
    if policy.destination == RecycleDestination.OTHER_POOL and policy.destination_pool:
        return _("to the pool %(pool)s") % {"pool": policy.destination_pool.name}
    if policy.destination == RecycleDestination.REASSIGN_QUEUE:
        return _("to the manager's reassign queue")
    return _("back to this pool")


def recycle_explanation(customer: Customer) -> RecycleExplanation | None:
    """When and by which rule the customer goes back; for a frozen customer, the rule that
    applies once the freeze ends."""
    if customer.owner_id is None:
        return None
    policy = getattr(customer.pool, "recycle_policy", None) if customer.pool else None
    plan = schedule_for(
        customer, status=Status.OWNED, owned_since=customer.owned_since, pool=customer.pool
    )
    rule_text = (
        _(RULE_REASONS.get(plan.rule, plan.rule)) % {"limit": plan.limit} if plan.rule else ""
    )
    return RecycleExplanation(
        due_at=customer.recycle_due_at,
        rule_text=rule_text,
        frozen_until=customer.frozen_until,
        policy_lines=_policy_lines(policy) if policy else [],
        exemptions=_exemptions(policy) if policy else [],
        destination=_destination(policy) if policy else "",
        leave=leave_note(customer),
    )
