"""Departure handovers set for a date (离职交接 "now or at a date").

A manager or admin schedules a rep's handover for a later moment; the periodic jobs
(``pools.scheduler``, registered by this app) run it then, as that manager, through the very
same resumable ``routing.handover`` job. Rules:

1. scheduling checks now what the run will check again: the viewer may hand over the rep,
   the receiver (a named colleague) may receive from them; the moment is in the future and
   within a year; a rep has at most one pending handover (a database constraint);
2. ``cancel`` ends a handover that has not started (compare-and-set on ``scheduled``); one that
   runs or ran cannot be cancelled;
3. ``run_due_handovers(now)`` takes each due one by compare-and-set (``scheduled`` → ``running``,
   or a ``running`` one whose lease ran out: its worker died, so the job resumes — the rep's
   remaining customers are the job's state, nothing moves twice), runs it and records the
   counts. A refusal at run time (the scheduler lost the right, the receiver left) makes it
   ``failed`` with the refusal's code; every customer stays where it was.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.visibility import Viewer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.routing.handover import Target, departing_rep, handover, receiver_of
from highseas.routing.models import ScheduledHandover

log = logging.getLogger("highseas.handover")

LEASE = timedelta(minutes=15)
FURTHEST = timedelta(days=366)
PENDING = [ScheduledHandover.State.SCHEDULED, ScheduledHandover.State.RUNNING]


def schedule_handover(
    viewer: Viewer, user_id: int, *, to: Target, at: datetime, now: datetime | None = None
) -> ScheduledHandover:
    now = now or timezone.now()
    rep = departing_rep(viewer, user_id)
    receiver = receiver_of(viewer, rep, to)
    if not now < at <= now + FURTHEST:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Choose a moment within the next year, or run the handover now."),
            errors={"at": ["out_of_range"]},
        )
    kind = ScheduledHandover.To.USER if receiver is not None else ScheduledHandover.To(str(to))
    try:
        with transaction.atomic():
            return ScheduledHandover.objects.create(
                rep=rep,
                to=kind,
                receiver=receiver,
                run_at=at,
                created_by=viewer.user,
                created_at=now,
            )
    except IntegrityError:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("This rep's handover is already scheduled; cancel it first to change it."),
            errors={"at": ["already_scheduled"]},
        ) from None


def scheduled_handovers(viewer: Viewer) -> QuerySet[ScheduledHandover]:
    """The handovers of the reps the viewer may hand over, pending first."""
    if not viewer.is_manager_or_admin:
        return ScheduledHandover.objects.none()
    rows = ScheduledHandover.objects.select_related("rep", "receiver", "created_by")
    if not viewer.is_admin:
        rows = rows.filter(rep__team_id__in=sorted(viewer.subtree_team_ids))
    return rows


def cancel_handover(
    viewer: Viewer, handover_id: int, *, now: datetime | None = None
) -> ScheduledHandover:
    row = scheduled_handovers(viewer).filter(pk=handover_id).first()
    if row is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such scheduled handover."))
    departing_rep(viewer, row.rep_id)
    cancelled = ScheduledHandover.objects.filter(
        pk=row.pk, state=ScheduledHandover.State.SCHEDULED
    ).update(
        state=ScheduledHandover.State.CANCELLED,
        cancelled_by=viewer.user,
        finished_at=now or timezone.now(),
    )
    if cancelled != 1:
        raise HighSeasError(
            ErrorCode.STATE_CONFLICT,
            _("This handover has already started; it can no longer be cancelled."),
            state=ScheduledHandover.objects.get(pk=row.pk).state,
        )
    row.refresh_from_db()
    return row


def _due(now: datetime) -> QuerySet[ScheduledHandover]:
    waiting = Q(state=ScheduledHandover.State.SCHEDULED)
    abandoned = Q(state=ScheduledHandover.State.RUNNING, started_at__lte=now - LEASE)
    return ScheduledHandover.objects.filter(waiting | abandoned, run_at__lte=now)


def _take(row: ScheduledHandover, now: datetime) -> bool:
    """Compare-and-set: this worker runs it (no other one took it meanwhile)."""
    taken = ScheduledHandover.objects.filter(
        pk=row.pk, state=row.state, attempts=row.attempts
    ).update(state=ScheduledHandover.State.RUNNING, started_at=now, attempts=F("attempts") + 1)
    return taken == 1


def _finish(row: ScheduledHandover, state: str, result: dict[str, Any], now: datetime) -> None:
    ScheduledHandover.objects.filter(pk=row.pk, state=ScheduledHandover.State.RUNNING).update(
        state=state, result=result, finished_at=now
    )


def run_scheduled(row: ScheduledHandover, now: datetime) -> str:
    """Run one taken handover as its scheduler; the state it ends in."""
    try:
        report = handover(Viewer(row.created_by), row.rep_id, to=row.target, dry_run=False, now=now)
    except HighSeasError as refusal:
        _finish(row, ScheduledHandover.State.FAILED, {"code": refusal.code.value}, now)
        return ScheduledHandover.State.FAILED
    result = {
        "moved": len(report.moved),
        "problems": len(report.problems),
        "remaining": report.remaining,
        "by_owner": report.by_owner(),
    }
    _finish(row, ScheduledHandover.State.DONE, result, timezone.now())
    return ScheduledHandover.State.DONE


def run_due_handovers(now: datetime) -> dict[str, Any]:
    """The periodic job: every handover due at ``now``; figures only when one ran."""
    states: list[str] = []
    for row in list(_due(now).select_related("created_by").order_by("run_at", "id")[:20]):
        if _take(row, now):
            states.append(run_scheduled(row, now))
    if not states:
        return {}
    done = states.count(ScheduledHandover.State.DONE)
    return {"handovers": done, "handovers_failed": len(states) - done}
