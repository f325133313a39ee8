"""Claim requests in pools that require approval: approve, reject, withdraw, expire.

Only an approval writes ownership (a ``claimed`` ledger row for the requester, with the
approving manager as actor); a rejected, withdrawn or expired request leaves no ledger row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.services import notify
from highseas.pools import reasons
from highseas.pools.authority import require_manager_of
from highseas.pools.models import ClaimPolicy, ClaimRequest
from highseas.pools.ownership import claim_for, load_customer
from highseas.pools.reasons import Reason, is_claim_request_text

State = ClaimRequest.State


def _pending(request_id: int, now: datetime, manager: User | None = None) -> ClaimRequest:
    """The request, locked; an expired one is marked so and refused. With ``manager``, the
    permission to decide is checked first, so a refused caller learns nothing of the state."""
    request = (
        ClaimRequest.objects.select_for_update()
        .select_related("requester")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such claim request."))
    if manager is not None:
        require_manager_of(Viewer(manager), load_customer(request.customer_id))
    if request.state == State.PENDING and request.expires_at and request.expires_at <= now:
        ClaimRequest.objects.filter(pk=request.pk, state=State.PENDING).update(state=State.EXPIRED)
        request.state = State.EXPIRED
    if request.state != State.PENDING:
        raise HighSeasError(
            ErrorCode.STATE_CONFLICT, _("This request is no longer pending."), state=request.state
        )
    return request


def _decide(
    request: ClaimRequest, actor: User | None, state: str, note: str, now: datetime
) -> None:
    decision = {"state": state, "decided_by": actor, "decided_at": now, "decision_note": note}
    written = ClaimRequest.objects.filter(pk=request.pk, state=State.PENDING).update(**decision)
    if written != 1:
        raise HighSeasError(ErrorCode.STATE_CONFLICT, _("This request is no longer pending."))
    for name, value in decision.items():
        setattr(request, name, value)


def approval_reason(request: ClaimRequest, approver: User) -> Reason:
    """The ledger reason of an approved claim: who asked, who approved, and why (the rep's
    own words, when they gave any)."""
    who = {"requester": request.requester.label, "manager": approver.label}
    if not request.reason or is_claim_request_text(request.reason):
        return Reason(reasons.CLAIM_APPROVED_PLAIN, who)
    return Reason(reasons.CLAIM_APPROVED, {**who, "reason": request.reason})


@transaction.atomic
def approve(
    actor: User, request_id: int, *, note: str = "", now: datetime | None = None
) -> ClaimRequest:
    """Approve: the claim happens now, under every rule as of now, for the requester."""
    now = now or timezone.now()
    request = _pending(request_id, now, manager=actor)
    claim_for(
        request.requester,
        request.customer_id,
        actor=actor,
        reason=approval_reason(request, actor),
        now=now,
    )
    _decide(request, actor, State.APPROVED, note, now)
    notify(
        request.requester_id,
        "claim_approved",
        _("Your claim was approved"),
        note,
        request.customer_id,
    )
    return request


@transaction.atomic
def reject(
    actor: User, request_id: int, *, note: str = "", now: datetime | None = None
) -> ClaimRequest:
    now = now or timezone.now()
    request = _pending(request_id, now, manager=actor)
    _decide(request, actor, State.REJECTED, note, now)
    notify(
        request.requester_id,
        "claim_rejected",
        _("Your claim was rejected"),
        note,
        request.customer_id,
    )
    return request


@transaction.atomic
def withdraw(actor: User, request_id: int, *, now: datetime | None = None) -> ClaimRequest:
    """The requester takes back a pending request. Whoever else may see it is refused; to
    anyone else it does not exist."""
    now = now or timezone.now()
    visible = requests_visible_to(Viewer(actor)).filter(pk=request_id)
    requester_id = visible.values_list("requester_id", flat=True).first()
    if requester_id is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such claim request."))
    if requester_id != actor.pk:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only the rep who asked can withdraw a request.")
        )
    request = _pending(request_id, now)
    _decide(request, None, State.WITHDRAWN, "", now)
    return request


def pending_request(viewer: Viewer, customer_id: int) -> ClaimRequest | None:
    """The viewer's own pending request on the customer, if any (past expiry counts as gone)."""
    return pending_requests(viewer, [customer_id]).get(customer_id)


def pending_requests(
    viewer: Viewer, customer_ids: list[int], now: datetime | None = None
) -> dict[int, ClaimRequest]:
    """The viewer's own pending requests on these customers, by customer."""
    now = now or timezone.now()
    mine = ClaimRequest.objects.filter(
        requester=viewer.user, state=State.PENDING, customer_id__in=customer_ids
    ).exclude(expires_at__lte=now)
    return {request.customer_id: request for request in mine}


@dataclass(frozen=True)
class ReasonField:
    """How a claim form asks for a reason in a pool: offered when the pool needs approval or
    asks for one, required when it asks."""

    is_offered: bool = False
    is_required: bool = False


def reason_field(pool_id: int | None) -> ReasonField:
    if pool_id is None:
        return ReasonField()
    flags = (
        ClaimPolicy.objects.filter(pool_id=pool_id)
        .values_list("requires_approval", "requires_reason")
        .first()
    )
    if flags is None:
        return ReasonField()
    requires_approval, requires_reason = flags
    return ReasonField(requires_approval or requires_reason, requires_reason)


def expire_requests(now: datetime | None = None) -> int:
    """Mark every pending request past its expiry as expired (set-based)."""
    now = now or timezone.now()
    return ClaimRequest.objects.filter(state=State.PENDING, expires_at__lte=now).update(
        state=State.EXPIRED
    )


def requests_visible_to(viewer: Viewer) -> QuerySet[ClaimRequest]:
    """A rep sees their own requests; a manager those on pools they belong to; admins all."""
    requests = ClaimRequest.objects.select_related("customer", "requester")
    if viewer.is_admin:
        return requests
    mine = Q(requester=viewer.user)
    if viewer.user.is_manager:
        mine |= Q(customer__pool_id__in=viewer.member_pool_ids)
    return requests.filter(mine)
