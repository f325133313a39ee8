"""The manager dashboard: pool sizes, claims and recycles per rep, follow-up, conversion.
Each chart is drawn for a laptop and for a phone, with tooltips and links to the customers
behind it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
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


def link(name: str, **query: object) -> str:
    return f"{reverse(name)}?{urlencode(query)}" if query else reverse(name)


@manager_required
def dashboard(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    now = timezone.now()
    reps = insights.team_reps(viewer)
    pools = insights.shown_pools(viewer)
    days, sizes = insights.pool_sizes(pools, now, POOL_DAYS)
    conversion = insights.conversion_by_source(viewer)
    activity = insights.claims_and_recycles(reps, now - timedelta(days=ACTIVITY_DAYS))
    follow = insights.follow_up_rates(viewer, reps, now - timedelta(days=FOLLOW_UP_DAYS))
    owner_link = [link("web:team_customers", owner=rep) for *_, rep in activity]
    context = {
        "section": "console",
        "tab": "dashboard",
        "kpi": insights.headline(viewer, reps, now),
        "pending": requests.requests_visible_to(viewer)
        .filter(state=ClaimRequest.State.PENDING)
        .count(),
        "pool_chart": charts.responsive(
            charts.lines,
            days,
            sizes,
            hrefs={pool.name: link("web:pool", pool=pool.pk) for pool in pools},
            phone=charts.PHONE_LINES,
        ),
        "rep_chart": charts.responsive(
            charts.grouped_bars,
            [(label, values) for label, values, _rep in activity],
            [_("Claims"), _("Recycled")],
            hrefs=owner_link,
            phone=charts.PHONE_BARS,
        ),
        "follow_chart": charts.responsive(
            charts.bars,
            [(label, rate) for label, rate, _rep in follow],
            percent=True,
            full_scale=100,
            color=charts.PALETTE[1],
            hrefs=[link("web:team_customers", owner=rep) for *_, rep in follow],
            phone=charts.PHONE_BARS,
        ),
        "conversion": conversion,
        "conversion_chart": charts.responsive(
            charts.bars,
            [(row.source, row.rate) for row in conversion],
            percent=True,
            color=charts.PALETTE[3],
            hrefs=[link("web:console_insights", by="source") for _row in conversion],
            phone=charts.PHONE_BARS,
        ),
        "pool_days": POOL_DAYS,
        "activity_days": ACTIVITY_DAYS,
        "follow_up_days": FOLLOW_UP_DAYS,
    }
    return render(request, "web/console/dashboard.html", context)
