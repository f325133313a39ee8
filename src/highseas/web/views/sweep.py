"""The sweep preview: what a sweep at a chosen moment would recycle and warn, per pool and rep.

It asks ``pools.reports.sweep_preview`` for a bounded dry run (the real sweep's code path, no
writes: the first due customers judged, every warning counted), scoped to the customers the
manager sees in full, with totals by rep and destination; "count all" (``?full=1``) asks
``sweep_report`` for the complete dry run.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.pools import reports
from highseas.pools.receivers import find_receivers, receivers
from highseas.pools.reports import SweepPreview, sweep_report
from highseas.pools.sweep import SweepReport
from highseas.web import charts, rep_picker
from highseas.web.access import manager_required
from highseas.web.forms import SweepPreviewForm
from highseas.web.responses import viewer_of

SHOWN_ROWS = 60


def _moments(now: Any) -> list[tuple[str, str]]:
    """Quick picks for "as of": now, and the same time 1, 3 and 7 days ahead."""
    local = timezone.localtime(now)
    picks = [(_("Now"), 0), (_("Tomorrow"), 1), (_("In 3 days"), 3), (_("In 7 days"), 7)]
    return [(label, (local + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M")) for label, d in picks]


def _report_context(report: SweepReport, preview: SweepPreview | None) -> dict[str, Any]:
    """The report as the service scoped it to the manager, with totals by rep and pool; a
    bounded preview's recycled figures count the customers it judged ("at least")."""
    by_owner = Counter(item.from_owner_name for item in report.recycled)
    by_pool = Counter(item.to_pool_name for item in report.recycled)
    return {
        "recycled": report.recycled[:SHOWN_ROWS],
        "recycled_count": len(report.recycled),
        "recycled_at_least": preview is not None and not preview.complete,
        "warned_at_least": preview is not None and preview.warned_capped,
        "more_recycled": max(len(report.recycled) - SHOWN_ROWS, 0),
        "warned": report.warned,
        "warned_count": preview.warned_count if preview else len(report.warned),
        "by_owner_chart": charts.bars(by_owner.most_common(12), width=400, label_width=80),
        "by_pool": by_pool.most_common(),
        "report": report,
    }


@manager_required
def sweep_preview(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    pools = list(viewer.pools().filter(is_reassign_queue=False).order_by("name"))
    query = request.GET.copy()
    typed, unresolved = rep_picker.typed_owner(viewer, query)
    if typed:
        query["owner"] = str(typed)
    form = SweepPreviewForm(query, pools=pools, owners=receivers(viewer))
    valid = form.is_valid() and not unresolved
    picked = form.cleaned_data.get("owner") if valid else None
    context: dict[str, Any] = {
        "section": "console",
        "tab": "sweep",
        "form": form,
        "owner_picker": rep_picker.picker(
            viewer,
            field_id=form["owner"].id_for_label,
            empty=_("Everyone"),
            first=find_receivers(viewer),
            picked=picked.pk if picked else None,
            typed=query.get(rep_picker.TYPED, "") if unresolved else "",
            error=unresolved or " ".join(str(e) for e in form.errors.get("owner") or ()),
        ),
        "moments": _moments(timezone.now()),
    }
    if valid:
        data = form.cleaned_data
        at = data.get("at") or timezone.now()
        pool, owner = data.get("pool"), picked.pk if picked else None
        preview = None
        if request.GET.get("full") == "1":
            report = sweep_report(viewer, now=at, dry_run=True, pool=pool, owner=owner)
        else:
            preview = reports.sweep_preview(viewer, now=at, pool=pool, owner=owner)
            report = preview.report
        context.update(_report_context(report, preview), at=at)
    return render(request, "web/console/sweep.html", context)
