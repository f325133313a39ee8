"""Whether a rep may claim a pooled customer, decided from plain facts (SPEC §5).

The service gathers the facts inside the claim transaction, after taking the rep's lock, so
no concurrent claim can change them before the write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from highseas.engine.errors import ErrorCode, HighSeasError, gettext_noop
from highseas.engine.limits import ClaimLimits
from highseas.engine.ownership import Status


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What the rules need to know about one claim, read under the rep's lock."""

    status: Status
    is_member: bool
    holder_name: str | None
    holdings: int
    claims_today: int
    claims_this_week: int
    lost_at: datetime | None  # when this rep last released it or had it recycled


def refuse_unavailable(facts: ClaimFacts) -> HighSeasError | None:
    if facts.status is Status.POOLED:
        return None
    return HighSeasError(
        ErrorCode.ALREADY_OWNED,
        gettext_noop("This customer already has an owner."),
        holder=facts.holder_name,
        status=facts.status.value,
    )


def refuse_cooldown(limits: ClaimLimits, facts: ClaimFacts, now: datetime) -> HighSeasError | None:
    if limits.reclaim_cooldown_days is None or facts.lost_at is None:
        return None
    ends_at = facts.lost_at + timedelta(days=limits.reclaim_cooldown_days)
    if now >= ends_at:
        return None
    return HighSeasError(
        ErrorCode.RECLAIM_COOLDOWN,
        gettext_noop("You gave this customer up recently and cannot claim it again yet."),
        cooldown_ends_at=ends_at.isoformat(),
    )


def refuse_quota(limits: ClaimLimits, facts: ClaimFacts) -> HighSeasError | None:
    for period, used, limit, detail in (
        (
            "day",
            facts.claims_today,
            limits.daily_quota,
            gettext_noop("You have used today's claim quota."),
        ),
        (
            "week",
            facts.claims_this_week,
            limits.weekly_quota,
            gettext_noop("You have used this week's claim quota."),
        ),
    ):
        if limit is not None and used >= limit:
            return HighSeasError(
                ErrorCode.CLAIM_QUOTA_EXCEEDED,
                detail,
                period=period,
                used=used,
                limit=limit,
            )
    return None


def refuse_cap(holding_cap: int | None, holdings: int) -> HighSeasError | None:
    if holding_cap is None or holdings < holding_cap:
        return None
    return HighSeasError(
        ErrorCode.HOLDING_CAP_REACHED,
        gettext_noop("You already hold as many customers as you may."),
        holdings=holdings,
        limit=holding_cap,
    )


def decide_claim(limits: ClaimLimits, facts: ClaimFacts, now: datetime) -> HighSeasError | None:
    """``None`` when the claim may go ahead, else the first refusal, checked in this order:

    1. membership of the customer's pool (``not_pool_member``);
    2. the customer is pooled (``already_owned``, naming the holder);
    3. reclaim cooldown, ending exactly ``reclaim_cooldown_days`` after the loss;
    4. daily, then weekly claim quota;
    5. holding cap.
    Approval is not a refusal: the service turns an allowed claim into a request when the
    pool requires approval.
    """
    if not facts.is_member:
        return HighSeasError(
            ErrorCode.NOT_POOL_MEMBER, gettext_noop("You are not a member of this pool.")
        )
    return (
        refuse_unavailable(facts)
        or refuse_cooldown(limits, facts, now)
        or refuse_quota(limits, facts)
        or refuse_cap(limits.holding_cap, facts.holdings)
    )
