"""The sweep preview: what a sweep at a chosen moment would recycle and warn, per pool and rep.

It runs the real sweep with ``dry_run`` (same code path, no writes) and shows only the
customers the manager may see, with the totals by rep and by destination.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.pools.sweep import Scope, SweepReport, sweep
from highseas.web import charts, selectors
from highseas.web.access import manager_required
from highseas.web.forms import SweepPreviewForm
from highseas.web.responses import viewer_of

SHOWN_ROWS = 60


def _moments(now: Any) -> list[tuple[str, str]]:
    """Quick picks for "as of": now, and the same time 1, 3 and 7 days ahead."""
    local = timezone.localtime(now)
    picks = [(_("Now"), 0), (_("Tomorrow"), 1), (_("In 3 days"), 3), (_("In 7 days"), 7)]
    return [(label, (local + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M")) for label, d in picks]


def _visible_report(viewer: Any, report: SweepReport) -> dict[str, Any]:
    ids = [item.customer for item in report.recycled] + [item.customer for item in report.warned]
    visible = selectors.visible_ids(viewer, ids)
    recycled = [item for item in report.recycled if item.customer in visible]
    warned = [item for item in report.warned if item.customer in visible]
    by_owner = Counter(item.from_owner_name for item in recycled)
    by_pool = Counter(item.to_pool_name for item in recycled)
    return {
        "recycled": recycled[:SHOWN_ROWS],
        "recycled_count": len(recycled),
        "more_recycled": max(len(recycled) - SHOWN_ROWS, 0),
        "warned": warned,
        "by_owner_chart": charts.bars(by_owner.most_common(12), width=400, label_width=80),
        "by_pool": by_pool.most_common(),
        "report": report,
    }


@manager_required
def sweep_preview(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    pools = list(viewer.pools().filter(is_reassign_queue=False).order_by("name"))
    owners = list(selectors.assignable_users(viewer))
    form = SweepPreviewForm(request.GET, pools=pools, owners=owners)
    context: dict[str, Any] = {
        "section": "console",
        "tab": "sweep",
        "form": form,
        "moments": _moments(timezone.now()),
    }
    if form.is_valid():
        data = form.cleaned_data
        pool_ids = [data["pool"]] if data.get("pool") else [p.pk for p in pools]
        at = data.get("at") or timezone.now()
        reports = [
            sweep(at, dry_run=True, scope=Scope(pool_id=pool_id, owner_id=data.get("owner")))
            for pool_id in pool_ids
        ]
        merged = SweepReport(now=at, dry_run=True)
        for part in reports:
            merged.recycled.extend(part.recycled)
            merged.warned.extend(part.warned)
            merged.elapsed_ms += part.elapsed_ms
        context.update(_visible_report(viewer, merged), at=at)
    return render(request, "web/console/sweep.html", context)
