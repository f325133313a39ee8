"""The manager dashboard: pool sizes, claims and recycles per rep, follow-up, conversion."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.pools import requests
from highseas.pools.models import ClaimRequest
from highseas.web import charts, insights
from highseas.web.access import manager_required
from highseas.web.responses import viewer_of

POOL_DAYS = 60
ACTIVITY_DAYS = 30
FOLLOW_UP_DAYS = 7


@manager_required
def dashboard(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    now = timezone.now()
    reps = insights.team_reps(viewer)
    days, sizes = insights.pool_sizes(insights.shown_pools(viewer), now, POOL_DAYS)
    conversion = insights.conversion_by_source(viewer)
    context = {
        "section": "console",
        "tab": "dashboard",
        "kpi": insights.headline(viewer, reps, now),
        "pending": requests.requests_visible_to(viewer)
        .filter(state=ClaimRequest.State.PENDING)
        .count(),
        "pool_chart": charts.lines(days, sizes),
        "rep_chart": charts.grouped_bars(
            insights.claims_and_recycles(reps, now - timedelta(days=ACTIVITY_DAYS)),
            [_("Claims"), _("Recycled")],
        ),
        "follow_chart": charts.bars(
            insights.follow_up_rates(viewer, reps, now - timedelta(days=FOLLOW_UP_DAYS)),
            percent=True,
            full_scale=100,
            color=charts.PALETTE[1],
        ),
        "conversion": conversion,
        "conversion_chart": charts.bars(
            [(row.source, row.rate) for row in conversion], percent=True, color=charts.PALETTE[3]
        ),
        "pool_days": POOL_DAYS,
        "activity_days": ACTIVITY_DAYS,
        "follow_up_days": FOLLOW_UP_DAYS,
    }
    return render(request, "web/console/dashboard.html", context)
