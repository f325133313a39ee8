"""Export buttons: the page's own filters, handed to the export service as the API's are
(``customers.exports.start_export``), the file streamed back."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse

from highseas.customers.export_files import http_response
from highseas.customers.exports import ExportFilters, start_export
from highseas.engine.errors import HighSeasError
from highseas.web.access import manager_required
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, viewer_of

CONSOLE_STATUSES = {"held": "owned,frozen", "pooled": "pooled", "frozen": "frozen"}


def _download(request: HttpRequest, params: dict[str, str], back: str) -> HttpResponseBase:
    viewer = viewer_of(request)
    try:
        export = start_export(
            viewer,
            request.GET.get("kind") or "customers",
            filters=ExportFilters.parse(params),
            file_format=request.GET.get("format") or "csv",
            address=request.META.get("REMOTE_ADDR"),
        )
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=back)
    return http_response(export)


@login_required
def export_mine(request: HttpRequest) -> HttpResponseBase:
    """My customers as the page shows them: all, due within 7 days or frozen; by name."""
    view = request.GET.get("view", "")
    params = {"owner": str(viewer_of(request).user.pk), "q": request.GET.get("q", "")}
    if view == "due":
        params["due"] = "7"
    elif view == "frozen":
        params["status"] = "frozen"
    return _download(request, params, reverse("web:mine"))


@manager_required  # typed for pages; a streamed download is an HttpResponseBase as well
def export_team(request: HttpRequest) -> HttpResponse:
    """The team customers page's filters: status view, owner, pool, level, name, due."""
    get = request.GET
    params = {name: get.get(name, "") for name in ("owner", "pool", "level", "q")}
    params["status"] = CONSOLE_STATUSES.get(get.get("status", "held"), CONSOLE_STATUSES["held"])
    if get.get("due") == "7":
        params["due"] = "7"
    return cast(HttpResponse, _download(request, params, reverse("web:team_customers")))
