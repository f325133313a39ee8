"""The import page for managers and admins (``intake.imports``): upload → column mapping →
preview of every row → commit, with a live progress indicator.

1. Upload: the file is previewed at once with the team's remembered mapping completed by what
   the headers say (the service's choice), and kept, for this session, under the data
   folder, so that a changed mapping can preview it again;
2. mapping: each header of the file with a select of fields, pre-set to the job's mapping; a
   changed mapping previews the file again (a new job), an unchanged one goes on;
3. preview: counts, then every row (create, duplicate of whom, routed to whom, error and why),
   ``PAGE`` rows at a time;
4. commit: a form post that runs the commit; the page's script polls the job's progress
   while it runs. A finished job shows what was done.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.intake.columns import FIELDS
from highseas.intake.imports import (
    commit_import,
    import_counts,
    import_job,
    import_rows,
    preview_import,
)
from highseas.intake.models import ImportJob, ImportRow
from highseas.intake.reading import read_table
from highseas.pools.listing import listable_pools
from highseas.web.access import manager_required
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, viewer_of

PAGE = 200
SESSION_KEY = "highseas_import_uploads"
HISTORY_LABELS = {
    "owner": gettext_lazy("Owner"),
    "deal_status": gettext_lazy("Deal result"),
    "deal_amount": gettext_lazy("Deal amount"),
    "deal_date": gettext_lazy("Deal date"),
    "activity_at": gettext_lazy("Follow-up date"),
    "activity_kind": gettext_lazy("Follow-up kind"),
    "activity_note": gettext_lazy("Follow-up note"),
}


def field_choices() -> list[tuple[str, str]]:
    def label(name: str) -> str:
        if name in HISTORY_LABELS:
            return str(HISTORY_LABELS[name])
        field: Any = Customer._meta.get_field(name)
        return str(capfirst(field.verbose_name))

    return [("", _("(ignore)"))] + [(name, label(name)) for name in FIELDS]


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File (CSV or XLSX)"))
    pool = forms.TypedChoiceField(label=gettext_lazy("Into pool"), coerce=int)
    on_duplicate = forms.ChoiceField(
        label=gettext_lazy("When a row duplicates a customer"),
        choices=ImportJob.OnDuplicate.choices,
        initial=ImportJob.OnDuplicate.BLOCK,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, pools: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pool"].choices = [(pool.pk, pool.name) for pool in pools]  # type: ignore[attr-defined]


# The uploaded file, kept between the steps of one session.


def _upload_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _keep(request: HttpRequest, job: ImportJob, content: bytes, token: str = "") -> None:
    token = token or secrets.token_hex(16)
    if not (_upload_dir() / token).exists():
        (_upload_dir() / token).write_bytes(content)
    uploads = dict(request.session.get(SESSION_KEY, {}))
    uploads[str(job.pk)] = token
    request.session[SESSION_KEY] = uploads


def _kept(request: HttpRequest, job: ImportJob) -> tuple[str, bytes] | None:
    token = request.session.get(SESSION_KEY, {}).get(str(job.pk), "")
    path = _upload_dir() / token if token and token.isalnum() else None
    if path is None or not path.exists():
        return None
    return token, path.read_bytes()


def _forget(request: HttpRequest, job: ImportJob) -> None:
    uploads = dict(request.session.get(SESSION_KEY, {}))
    token = uploads.pop(str(job.pk), "")
    request.session[SESSION_KEY] = uploads
    if token and token.isalnum() and token not in uploads.values():
        (_upload_dir() / token).unlink(missing_ok=True)


# Pages.


def _context(**extra: Any) -> dict[str, Any]:
    return {"section": "console", "tab": "imports", **extra}


@manager_required
def upload(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    pools = list(listable_pools(viewer))
    form = UploadForm(request.POST or None, request.FILES or None, pools=pools)
    error = ""
    if request.method == "POST" and form.is_valid():
        given = form.cleaned_data
        content = given["file"].read()
        try:
            job = preview_import(
                viewer,
                file_name=given["file"].name or "upload",
                content=content,
                pool_id=given["pool"],
                on_duplicate=given["on_duplicate"],
            )
        except HighSeasError as refusal:
            error = plain_words(refusal)
        else:
            _keep(request, job, content)
            return redirect("web:import_mapping", job.pk)
    return render(request, "web/imports/upload.html", _context(form=form, error=error))


@manager_required
def mapping(request: HttpRequest, job_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    try:
        job = import_job(viewer, job_id)
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=reverse("web:imports"))
    kept = _kept(request, job)
    if kept is None or job.status != ImportJob.Status.PREVIEWED:
        return redirect("web:import_job", job.pk)
    token, content = kept
    headers = read_table(content).headers
    chosen = {h: request.POST.get(f"map-{i}", "") for i, h in enumerate(headers)}
    error = ""
    if request.method == "POST":
        chosen_fields = {h: f for h, f in chosen.items() if f}
        if chosen_fields == job.mapping:
            return redirect("web:import_job", job.pk)
        try:
            again = preview_import(
                viewer,
                file_name=job.file_name,
                content=content,
                pool_id=job.pool_id,
                mapping=chosen_fields,
                on_duplicate=job.on_duplicate,
            )
        except HighSeasError as refusal:
            error = plain_words(refusal)
        else:
            _keep(request, again, content, token)
            return redirect("web:import_job", again.pk)
    else:
        chosen = {h: job.mapping.get(h, "") for h in headers}
    columns = [(i, header, chosen[header]) for i, header in enumerate(headers)]
    context = _context(job=job, columns=columns, choices=field_choices(), error=error)
    return render(request, "web/imports/mapping.html", context)


def _row_view(row: Any) -> dict[str, Any]:
    return {
        "line": row.line,
        "name": row.values.get("name", ""),
        "phone": row.values.get("phone", ""),
        "action": row.action,
        "action_label": row.get_action_display(),
        "code": row.code,
        "detail": row.detail,
        "duplicate_of": row.duplicate_of_id,
        "duplicate_line": row.duplicate_line,
        "holder": row.holder,
        "owner": row.owner.label if row.owner_id and row.owner else "",
        "routed": row.routed,
        "customer": row.customer_id,
        "is_done": row.is_done,
    }


def _after(request: HttpRequest) -> int:
    raw = request.GET.get("after", "")
    return int(raw) if raw.isdigit() else 0


@manager_required
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    """The preview (or the outcome) of one import: counts, then every row."""
    viewer = viewer_of(request)
    try:
        job = import_job(viewer, job_id)
        rows = list(import_rows(viewer, job_id, after_line=_after(request), limit=PAGE + 1))
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=reverse("web:imports"))
    planned = import_counts(job)
    context = _context(
        job=job,
        rows=[_row_view(row) for row in rows[:PAGE]],
        next_after=rows[PAGE - 1].line if len(rows) > PAGE else None,
        counts=[
            (action, label, planned.get(action, 0))
            for action, label in _actions()
            if action != ImportRow.Action.PENDING or planned.get(action)  # an unfinished import
        ],
        may_remap=_kept(request, job) is not None and job.status == ImportJob.Status.PREVIEWED,
        may_commit=job.status != ImportJob.Status.DONE,
    )
    return render(request, "web/imports/job.html", context)


def _actions() -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in ImportRow.Action.choices]


@manager_required
def progress(request: HttpRequest, job_id: int) -> JsonResponse:
    """The job's progress, for the page's script."""
    try:
        job = import_job(viewer_of(request), job_id)
    except HighSeasError as refusal:
        return JsonResponse({"code": refusal.code, "detail": refusal.detail}, status=404)
    return JsonResponse(
        {
            "status": job.status,
            "done": job.done_rows,
            "total": job.total,
            "error": job.error.get("detail", ""),
        }
    )


@manager_required
@require_POST
def commit(request: HttpRequest, job_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    to = reverse("web:import_job", args=[job_id])
    try:
        job = commit_import(viewer, job_id)
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to)
    _forget(request, job)
    planned = import_counts(job)
    counts = {
        "created": planned.get("create", 0),
        "total": job.total,
        "errors": planned.get("error", 0),
    }
    message = _("Imported: %(created)s of %(total)s rows created, %(errors)s with errors.")
    return answer(request, ok=True, message=message % counts, to=to, status=job.status)
