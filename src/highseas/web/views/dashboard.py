"""The manager dashboard: pool sizes, claims and recycles per rep, follow-up, conversion.
Each chart is drawn for a laptop and for a phone, with tooltips and links to the customers
behind it."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.insights.dashboard import dashboard_figures
from highseas.pools import requests
from highseas.pools.models import ClaimRequest
from highseas.web import charts
from highseas.web.access import manager_required
from highseas.web.responses import viewer_of

POOL_DAYS = 60
ACTIVITY_DAYS = 30
FOLLOW_UP_DAYS = 7


def cached_note(computed_at: datetime | None, text: str) -> str:
    """``text`` with the local time the cached figures were computed at."""
    if computed_at is None:
        return ""
    return text % {"time": timezone.localtime(computed_at).strftime("%H:%M")}


def link(name: str, **query: object) -> str:
    return f"{reverse(name)}?{urlencode(query)}" if query else reverse(name)


@manager_required
def dashboard(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    figures = dashboard_figures(
        viewer,
        timezone.now(),
        pool_days=POOL_DAYS,
        activity_days=ACTIVITY_DAYS,
        follow_up_days=FOLLOW_UP_DAYS,
        exact=request.GET.get("exact") == "1",
    )
    days, sizes, conversion = figures["axis"], figures["sizes"], figures["conversion"]
    activity, follow = figures["activity"], figures["follow"]
    owner_link = [link("web:team_customers", owner=rep) for *_, rep in activity]
    context = {
        "section": "console",
        "tab": "dashboard",
        "computed_at": figures["computed_at"],
        "cached_note": cached_note(
            figures["computed_at"],
            _(
                "Follow-up, conversion, due and pooled counts as of %(time)s "
                "(refreshed every few minutes)."
            ),
        ),
        "kpi": figures["kpi"],
        "pending": requests.requests_visible_to(viewer)
        .filter(state=ClaimRequest.State.PENDING)
        .count(),
        "pool_chart": charts.responsive(
            charts.lines,
            days,
            sizes,
            hrefs={name: link("web:pool", pool=pk) for pk, name in figures["pools"]},
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
