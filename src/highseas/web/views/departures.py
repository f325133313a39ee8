"""Departure handover (离职交接) in the console: pick a rep, choose where their customers go,
read the preview (the handover's own dry run), then run it now or schedule it for a date.

Every decision is ``routing``'s: ``departures`` for the reads and the run, ``scheduled`` for
handovers at a date. These views parse the form, call one of them and render the answer.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.routing import departures, scheduled
from highseas.web.access import manager_required
from highseas.web.departure_forms import DepartureForm
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, viewer_of


def _page_error(refusal: HighSeasError) -> Exception:
    if refusal.code is ErrorCode.NOT_FOUND:
        return Http404()
    return PermissionDenied(refusal.detail)


@manager_required
def departures_page(request: HttpRequest) -> HttpResponse:
    """The reps the manager may hand over, and the handovers set for a date."""
    viewer = viewer_of(request)
    context = {
        "section": "console",
        "tab": "departures",
        "reps": departures.departing_reps(viewer),
        "handovers": scheduled.scheduled_handovers(viewer).order_by("-run_at", "-id")[:50],
    }
    return render(request, "web/console/departures.html", context)


def _context(request: HttpRequest, user_id: int, data: Any) -> dict[str, Any]:
    viewer = viewer_of(request)
    try:
        facts = departures.departure_facts(viewer, user_id)
    except HighSeasError as refusal:
        raise _page_error(refusal) from refusal
    form = DepartureForm(data, receivers=departures.receivers_for(viewer, user_id))
    pending = scheduled.scheduled_handovers(viewer).filter(
        rep_id=user_id, state__in=scheduled.PENDING
    )
    return {
        "section": "console",
        "tab": "departures",
        "facts": facts,
        "form": form,
        "pending": pending.first(),
    }


@manager_required
def departure(request: HttpRequest, user_id: int) -> HttpResponse:
    """The rep's totals and the choice; with a choice made, its preview (a dry run)."""
    context = _context(request, user_id, request.GET if "to" in request.GET else None)
    form = context["form"]
    if form.is_bound and form.is_valid():
        try:
            context["plan"] = departures.departure_plan(
                viewer_of(request), user_id, to=form.target(), dry_run=True
            )
        except HighSeasError as refusal:
            context["refusal"] = plain_words(refusal)
    return render(request, "web/console/departure.html", context)


@manager_required
@require_POST
def run_departure(request: HttpRequest, user_id: int) -> HttpResponse:
    """Run the handover now (the result page), or schedule it (back to the list)."""
    viewer = viewer_of(request)
    context = _context(request, user_id, request.POST)
    form = context["form"]
    back = reverse("web:departure", args=[user_id])
    if not form.is_valid():
        first = next(iter(form.errors.values()))
        return answer(request, ok=False, message=str(first[0]), to=back)
    try:
        if form.is_later():
            row = scheduled.schedule_handover(
                viewer, user_id, to=form.target(), at=form.cleaned_data["at"]
            )
            message = _("%(rep)s's handover is scheduled for %(at)s.") % {
                "rep": row.rep.label,
                "at": timezone.localtime(row.run_at).strftime("%Y-%m-%d %H:%M"),
            }
            return answer(request, ok=True, message=message, to=reverse("web:departures"))
        plan = departures.departure_plan(viewer, user_id, to=form.target(), dry_run=False)
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=back)
    context.update(plan=plan, facts=plan.facts)
    return render(request, "web/console/departure_done.html", context)


@manager_required
@require_POST
def cancel_departure(request: HttpRequest, handover_id: int) -> HttpResponse:
    to = reverse("web:departures")
    try:
        row = scheduled.cancel_handover(viewer_of(request), handover_id)
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to)
    message = _("The scheduled handover of %(rep)s is cancelled.") % {"rep": row.rep.label}
    return answer(request, ok=True, message=message, to=to)
