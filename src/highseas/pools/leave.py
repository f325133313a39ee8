"""Leave cover (休假): what a rep's recorded leave does to their customers, per pool policy.

``RecyclePolicy.leave_mode`` decides, pool by pool:

- ``pause`` (the default): the recycle clocks of the rep's customers stand still during the
  leave. The engine computes it (``engine.recycle`` rule 7, with the owner's leave as
  ``CustomerClock.pauses``, read by ``pools.schedule``), so every writer of a schedule, the
  policy recompute and ``highseas check`` agree; nothing falls due during the leave and the
  countdown resumes after it, pushed by the leave's length;
- ``cover``: the clocks run, and the colleague named on the rep's profile
  (``RepProfile.leave_cover``) sees the rep's customers of that pool in full and may follow
  them up while the leave lasts (``accounts.visibility``, ``pools.authority.may_work_on``).

Recording a leave (``record_leave``) recomputes the schedules of the rep's customers in the
same transaction, so the stored ``recycle_due_at`` / ``warn_at`` never lag behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, RepProfile, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import facts
from highseas.pools.authority import require_receiver
from highseas.pools.schedule import refresh_schedule

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
LONGEST = timedelta(days=366)


@dataclass(frozen=True)
class LeaveNote:
    """What the customer page says about the owner's leave today."""

    mode: str  # "pause" | "cover"
    until: date
    cover: str  # the cover colleague's name, "" when none is named


def _leave_of(rep: User, today: date) -> RepProfile | None:
    profile = RepProfile.objects.filter(user_id=rep.pk).select_related("leave_cover").first()
    if profile is None or profile.leave_from is None or profile.leave_until is None:
        return None
    return profile if profile.leave_from <= today <= profile.leave_until else None


def leave_note(customer: Customer, now: datetime | None = None) -> LeaveNote | None:
    """For an owned customer whose owner is on leave today, what the pool's policy does."""
    if customer.owner is None or customer.status != CustomerStatus.OWNED:
        return None
    policy = getattr(customer.pool, "recycle_policy", None) if customer.pool else None
    if policy is None:
        return None
    profile = _leave_of(customer.owner, timezone.localdate(now))
    if profile is None or profile.leave_until is None:
        return None
    cover = profile.leave_cover.label if profile.leave_cover else ""
    return LeaveNote(mode=policy.leave_mode, until=profile.leave_until, cover=cover)


def reschedule(customers: QuerySet[Customer]) -> int:
    """Recompute through the engine the schedule of each owned customer of ``customers`` (a
    rep's, or a pool's customers of reps with a recorded leave); returns how many. Each is
    read under its row lock, taken in id order as every writer of several customers takes
    them: read unlocked, a follow-up's reset of the clock meanwhile was overwritten by the
    schedule of the customer as it was before."""
    count = 0
    owned = customers.filter(status=CustomerStatus.OWNED).order_by("pk")
    for customer in owned.select_for_update(of=("self",)).select_related("pool__recycle_policy"):
        refresh_schedule(customer)
        count += 1
    return count


def reschedule_on_leave(owned: QuerySet[Customer]) -> int:
    """The customers of ``owned`` whose owner has a recorded leave, recomputed one by one
    (the pool-wide recompute's set-based UPDATEs do not know the leaves)."""
    on_leave = owned.filter(
        owner__profile__leave_from__isnull=False, owner__profile__leave_until__isnull=False
    )
    return reschedule(on_leave)


def _require_manager_of(viewer: Viewer, rep: User) -> None:
    if viewer.is_admin or (viewer.user.is_manager and rep.team_id in viewer.subtree_team_ids):
        return
    raise HighSeasError(
        ErrorCode.PERMISSION_DENIED, _("Only the rep's manager or an administrator may do that.")
    )


def record_leave(
    viewer: Viewer,
    user_id: int,
    *,
    leave_from: date | None,
    leave_until: date | None,
    cover_id: int | None = None,
) -> RepProfile:
    """Record (or clear, with both dates ``None``) a rep's leave and its cover colleague; the
    rep's customers are rescheduled in the same transaction."""
    rep = viewer.users().filter(pk=user_id).first()
    if rep is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such user."))
    _require_manager_of(viewer, rep)
    if (leave_from is None) != (leave_until is None) or (
        leave_from
        and leave_until
        and not (
            EARLIEST <= leave_from <= leave_until <= LATEST and leave_until - leave_from <= LONGEST
        )
    ):
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("A leave has a first and a last day, the first not after the last, at most a year."),
            errors={"leave_until": ["invalid"]},
        )
    cover = _cover(viewer, rep, cover_id)
    with transaction.atomic():
        was = facts.lock_reps(rep.pk)[rep.pk]
        RepProfile.objects.filter(user_id=rep.pk).update(
            leave_from=leave_from, leave_until=leave_until, leave_cover=cover
        )
        reschedule(Customer.objects.filter(owner_id=rep.pk, merged_into__isnull=True))
        _audit(viewer, rep, was, RepProfile.objects.get(user_id=rep.pk))
    return RepProfile.objects.get(user_id=rep.pk)


def _audit(viewer: Viewer, rep: User, was: RepProfile, now: RepProfile) -> None:
    """A changed leave is a ``profile_change`` audit row with its values before and after."""
    names = ("leave_from", "leave_until", "leave_cover_id")
    before = {name.removesuffix("_id"): getattr(was, name) for name in names}
    after = {name.removesuffix("_id"): getattr(now, name) for name in names}
    if before == after:
        return
    record_audit(
        viewer.user,
        AuditLog.Action.PROFILE_CHANGE,
        target_type="user",
        target_id=rep.pk,
        before={k: v.isoformat() if isinstance(v, date) else v for k, v in before.items()},
        after={k: v.isoformat() if isinstance(v, date) else v for k, v in after.items()},
    )


def _cover(viewer: Viewer, rep: User, cover_id: int | None) -> User | None:
    if cover_id is None:
        return None
    cover = User.objects.filter(pk=cover_id).first()
    if cover is None or cover.pk == rep.pk:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Name a colleague to cover the leave."),
            errors={"leave_cover": ["invalid"]},
        )
    require_receiver(viewer, cover)
    return cover
