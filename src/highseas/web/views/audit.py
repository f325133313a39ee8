"""The audit log in the console (SPEC §13): the rows ``accounts.audit.audit_entries`` lets
the viewer read (admins all, managers their subtree's), with the API's filters, newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from highseas.accounts.audit import audit_entries
from highseas.accounts.models import AuditLog
from highseas.engine.errors import HighSeasError
from highseas.web.access import manager_required
from highseas.web.refusals import plain_words
from highseas.web.responses import viewer_of

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: int | None
    prev_cursor: int | None
    is_first: bool


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 19 else None


def _row(entry: AuditLog) -> dict[str, Any]:
    return {
        "entry": entry,
        "target": f"{entry.target_type} #{entry.target_id}" if entry.target_type else "",
        "detail": json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)
        if entry.detail
        else "",
    }


def _page(rows: Any, *, after: int | None, before: int | None) -> Page:
    if before is not None:
        chunk = list(rows.filter(pk__gt=before).order_by("pk")[: PAGE_SIZE + 1])
        found = list(reversed(chunk[:PAGE_SIZE]))
        prev_cursor = found[0].pk if len(chunk) > PAGE_SIZE else None
        next_cursor = found[-1].pk if found else None
    else:
        if after is not None:
            rows = rows.filter(pk__lt=after)
        chunk = list(rows.order_by("-pk")[: PAGE_SIZE + 1])
        found = chunk[:PAGE_SIZE]
        next_cursor = found[-1].pk if len(chunk) > PAGE_SIZE else None
        prev_cursor = found[0].pk if after is not None and found else None
    return Page(
        [_row(e) for e in found],
        next_cursor,
        prev_cursor,
        is_first=after is None and (before is None or prev_cursor is None),
    )


@manager_required
def audit_log(request: HttpRequest) -> HttpResponse:
    params = request.GET
    filters = {name: params.get(name, "").strip() for name in ("action", "actor", "since")}
    error = ""
    try:
        rows = audit_entries(viewer_of(request), **{k: v or None for k, v in filters.items()})
        page = _page(rows, after=_int(params.get("after")), before=_int(params.get("before")))
    except HighSeasError as refusal:
        error = plain_words(refusal)
        page = Page([], None, None, is_first=True)
    context = {
        "section": "console",
        "tab": "audit",
        "filters": filters,
        "actions": AuditLog.Action.choices,
        "page": page,
        "error": error,
    }
    return render(request, "web/console/audit.html", context, status=400 if error else 200)
