"""The console's insights page: breakdowns by channel, industry, region, rep and team; claim
effectiveness; fairness; value levels; performance-linked limit plans. One read
(``insights.console.console_figures``), charts drawn for a laptop and a phone."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.customers.choices import Source
from highseas.insights.breakdowns import GROUPINGS
from highseas.insights.console import WINDOWS, console_page
from highseas.web import charts
from highseas.web.access import manager_required
from highseas.web.responses import viewer_of
from highseas.web.views.dashboard import cached_note, link


def _days(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) in WINDOWS else 30


def _group_label(by: str, key: str) -> str:
    if not key:
        return _("(none)")
    return str(dict(Source.choices).get(key, key)) if by == "source" else key


def _rep_links(figures: dict[str, Any]) -> dict[str, str]:
    return {
        row["username"]: link("web:team_customers", owner=row["rep"])
        for row in figures["claims"]["reps"]
    }


@manager_required
def insights_page(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    by = request.GET.get("by", "source")
    by = by if by in GROUPINGS else "source"
    figures = console_page(
        viewer,
        days=_days(request.GET.get("days")),
        by=by,
        now=timezone.now(),
        exact=request.GET.get("exact") == "1",
    )
    groups = figures["breakdown"]["groups"]
    reps = _rep_links(figures)
    group_links = [reps.get(g["key"], "") if by == "rep" else "" for g in groups]
    claims = figures["claims"]["reps"]
    hoarders = figures["fairness"]["hoarding"]["reps"]
    context = {
        "section": "console",
        "tab": "insights",
        "figures": figures,
        "computed_at": figures["computed_at"],
        "cached_note": cached_note(
            figures["computed_at"],
            _(
                "Figures as of %(time)s over the window ending then (refreshed every few "
                "minutes); limit plans are live."
            ),
        ),
        "query": f"days={figures['days']}&by={by}",
        "windows": WINDOWS,
        "groupings": [
            ("source", _("Source")),
            ("industry", _("Industry")),
            ("region", _("Region")),
            ("rep", _("Rep")),
            ("team", _("Team")),
        ],
        "groups": [{**g, "label": _group_label(by, g["key"])} for g in groups],
        "gains_chart": charts.responsive(
            charts.grouped_bars,
            [(_group_label(by, g["key"]), [g["gains"], g["won"]]) for g in groups[:12]],
            [_("Gained"), _("Won")],
            hrefs=group_links[:12],
            phone=charts.PHONE_BARS,
        ),
        "claims_chart": charts.responsive(
            charts.grouped_bars,
            [
                (
                    row["display_name"],
                    [row["claims"], row["contacted"], row["won"], row["returned"]],
                )
                for row in claims
                if row["claims"]
            ][:12],
            [_("Claims"), _("Contacted"), _("Won"), _("Back to pool")],
            hrefs=[reps[row["username"]] for row in claims if row["claims"]][:12],
            phone=charts.PHONE_BARS,
        ),
        "hoard_chart": charts.responsive(
            charts.bars,
            [(row["display_name"], row["hoarded"]) for row in hoarders][:12],
            color=charts.PALETTE[2],
            hrefs=[link("web:team_customers", owner=row["rep"]) for row in hoarders][:12],
            phone=charts.PHONE_BARS,
        ),
        "level_chart": charts.responsive(
            charts.bars,
            [(_("Level %(level)s") % {"level": level}, n) for level, n in figures["levels"]],
            color=charts.PALETTE[3],
            hrefs=[link("web:team_customers", level=level) for level, _n in figures["levels"]],
            phone=charts.PHONE_BARS,
        ),
    }
    return render(request, "web/console/insights.html", context)
