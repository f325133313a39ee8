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
from highseas.insights.console import CLAIM_SORTS, WINDOWS, console_page
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


def _number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 7 else 1


def _with(request: HttpRequest, **changes: object) -> str:
    """This page's address with ``changes`` to its query (None drops a parameter)."""
    query = request.GET.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = str(value)
    return f"?{query.urlencode()}" if query else "?"


def _pager(request: HttpRequest, page: dict[str, Any], param: str) -> dict[str, Any]:
    """A ranked table's pager: where it stands and the links to the first, previous, next
    and last pages (empty where there is none)."""
    at, last = page["page"], page["pages"]
    first_row = (at - 1) * page["size"] + 1 if page["count"] else 0
    return {
        **{name: page[name] for name in ("count", "page", "pages")},
        "first_row": first_row,
        "last_row": first_row + len(page["rows"]) - 1 if page["rows"] else 0,
        "first": _with(request, **{param: None}) if at > 1 else "",
        "prev": _with(request, **{param: at - 1 if at > 2 else None}) if at > 1 else "",
        "next": _with(request, **{param: at + 1}) if at < last else "",
        "last": _with(request, **{param: last}) if at < last else "",
    }


def _rep_link(row: dict[str, Any]) -> str:
    return link("web:team_customers", owner=row["rep"])


@manager_required
def insights_page(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    by = request.GET.get("by", "source")
    by = by if by in GROUPINGS else "source"
    sort = request.GET.get("sort", CLAIM_SORTS[0])
    figures = console_page(
        viewer,
        days=_days(request.GET.get("days")),
        by=by,
        now=timezone.now(),
        exact=request.GET.get("exact") == "1",
        sort=sort,
        page=_number(request.GET.get("page")),
        group_page=_number(request.GET.get("gpage")),
    )
    groups = figures["groups_page"]["rows"]
    charted = figures["breakdown"]["groups"][:12]
    # the rep breakdown's groups are usernames: link the ones drawn or listed, not thousands
    named = {g["key"] for g in [*groups, *charted]} if by == "rep" else set()
    reps = {
        row["username"]: _rep_link(row)
        for row in figures["claims"]["reps"]
        if row["username"] in named
    }
    claims = figures["claims_top"]
    hoarders = figures["fairness"]["hoarding"]["reps"]
    claims_page = figures["claims_page"]
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
        "claim_rows": [{**row, "href": _rep_link(row)} for row in claims_page["rows"]],
        "claim_pager": _pager(request, claims_page, "page"),
        "claim_sorts": [
            (key, label, _with(request, sort=None if key == CLAIM_SORTS[0] else key, page=None))
            for key, label in (  # the table's columns, in order
                ("display_name", _("Rep")),
                ("-claims", _("Claims")),
                ("-contacted", _("Contacted")),
                ("-won", _("Won")),
                ("-returned", _("Back to pool")),
            )
        ],
        "claim_sort": claims_page["sort"],
        "group_pager": _pager(request, figures["groups_page"], "gpage"),
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
            [(_group_label(by, g["key"]), [g["gains"], g["won"]]) for g in charted],
            [_("Gained"), _("Won")],
            hrefs=[reps.get(g["key"], "") for g in charted],
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
            ],
            [_("Claims"), _("Contacted"), _("Won"), _("Back to pool")],
            hrefs=[_rep_link(row) for row in claims],
            phone=charts.PHONE_BARS,
        ),
        "hoard_chart": charts.responsive(
            charts.bars,
            [(row["display_name"], row["hoarded"]) for row in hoarders][:12],
            color=charts.PALETTE[2],
            hrefs=[_rep_link(row) for row in hoarders][:12],
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
