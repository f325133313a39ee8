"""Performance-linked limits in the console: the pools' plans, and per pool the editor that
previews "who would gain or lose how much" before the manager turns the plan on.

Each action is one call of ``insights.limits`` (the services the API's ``limit-plan``
endpoints use), which checks the viewer: ``plans_overview``, ``plan_report``,
``preview_plan`` (writes nothing) and ``save_plan`` (audited; turning on recomputes every
rep's factor at once, turning off drops them).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.insights.limits import plan_report, plans_overview, preview_plan, save_plan
from highseas.web.access import manager_required
from highseas.web.limit_forms import LimitPlanForm
from highseas.web.responses import viewer_of

SWITCHES = {"save": None, "on": True, "off": False}


@manager_required
def limit_plans(request: HttpRequest) -> HttpResponse:
    context = {
        "section": "console",
        "tab": "insights",
        "pools": plans_overview(viewer_of(request)),
    }
    return render(request, "web/console/limit_plans.html", context)


def _changes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each rep's limits before and after, with the change of each (the preview's reading)."""
    shown = []
    for row in rows:
        cells = []
        for name in ("daily_quota", "weekly_quota", "holding_cap"):
            before, after = row["before"][name], row["after"][name]
            delta = None if before is None or after is None else after - before
            cells.append({"before": before, "after": after, "delta": delta})
        moved = [cell["delta"] for cell in cells if cell["delta"]]
        shown.append(
            {
                **row,
                "cells": cells,
                "gains": bool(moved) and min(moved) > 0,
                "loses": bool(moved) and max(moved) < 0,
            }
        )
    return shown


@manager_required
def limit_plan(request: HttpRequest, pool_id: int) -> HttpResponse:
    viewer, now = viewer_of(request), timezone.now()
    try:
        saved = plan_report(viewer, pool_id, now=now)
    except HighSeasError as error:
        if error.code is ErrorCode.NOT_FOUND:
            raise Http404 from error
        raise PermissionDenied(error.detail) from error
    action = request.POST.get("action", "preview")
    form = LimitPlanForm(
        request.POST if request.method == "POST" else None,
        initial=LimitPlanForm.initial_of(saved),
    )
    context: dict[str, Any] = {
        "section": "console",
        "tab": "insights",
        "pool_id": pool_id,
        "pool_name": next((p["name"] for p in plans_overview(viewer) if p["pool"] == pool_id), ""),
        "saved": saved,
        "form": form,
        "rows": _changes(saved["reps"]),
        "measure": saved["measure"],
    }
    if request.method == "POST" and action == "off":
        save_plan(viewer, pool_id, {"is_active": False}, now=now)
        messages.success(request, _("The plan is off: every rep has the pool's own limits."))
        return HttpResponseRedirect(reverse("web:limit_plan", args=[pool_id]))
    if request.method == "POST" and form.is_valid():
        fields = form.plan_fields()
        try:
            if action in SWITCHES:
                switch = SWITCHES[action]
                save_plan(
                    viewer,
                    pool_id,
                    fields | ({} if switch is None else {"is_active": switch}),
                    now=now,
                )
                messages.success(request, _on_saved(action))
                return HttpResponseRedirect(reverse("web:limit_plan", args=[pool_id]))
            preview = preview_plan(viewer, pool_id, fields, now=now)
        except HighSeasError as error:
            for name, problems in (error.facts.get("errors") or {}).items():
                form.add_error(name if name in form.fields else None, "; ".join(problems))
            context["error"] = error.detail
        else:
            context.update(preview=True, rows=_changes(preview["reps"]), measure=preview["measure"])
    return render(request, "web/console/limit_plan.html", context)


def _on_saved(action: str) -> str:
    if action == "on":
        return _("The plan is on: each rep's limits follow their tier from now.")
    return _("The plan is saved.")
