"""The deal pipeline board: a rep's deals, a manager's team's, by stage; a deal moves to
another stage (``pools.followups.close_deal``) or has its amount and expected close changed
(``pools.pipeline.edit_deal``) from its card."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from highseas.engine.errors import HighSeasError
from highseas.pools import followups, pipeline
from highseas.web.pipeline_forms import DealEditForm, DealMoveForm, OwnerFilterForm
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, back_to, viewer_of


@login_required
def board_page(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    owners = pipeline.board_owners(viewer) if viewer.is_manager_or_admin else []
    filters = OwnerFilterForm(request.GET, owners=owners)
    owner_id = filters.cleaned_data.get("owner") if filters.is_valid() else None
    columns = pipeline.board(viewer, owner_id=owner_id)
    open_total = sum((c.total for c in columns if c.stage in pipeline.OPEN_STAGES), Decimal(0))
    context = {
        "section": "deals",
        "columns": columns,
        "filters": filters,
        "team_view": viewer.is_manager_or_admin,
        "open_total": open_total,
        "closed_days": pipeline.CLOSED_DAYS,
        "today": timezone.localdate(),
        "stages": DealMoveForm.base_fields["stage"].choices,  # type: ignore[attr-defined]
    }
    return render(request, "web/pipeline.html", context)


@login_required
@require_POST
def move_deal(request: HttpRequest, customer_id: int, deal_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    to = back_to(request, reverse("web:pipeline"))
    form = DealMoveForm(request.POST)
    if not form.is_valid():
        return answer(request, ok=False, message=str(next(iter(form.errors.values()))[0]), to=to)
    try:
        deal = followups.close_deal(viewer.user, customer_id, deal_id, **form.cleaned_data)
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to, code=refusal.code)
    message = _("Deal moved to %(stage)s.") % {"stage": deal.get_stage_display()}
    return answer(request, ok=True, message=message, to=to)


@login_required
@require_POST
def edit_deal(request: HttpRequest, customer_id: int, deal_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    to = back_to(request, reverse("web:pipeline"))
    form = DealEditForm(request.POST)
    if not form.is_valid():
        return answer(request, ok=False, message=str(next(iter(form.errors.values()))[0]), to=to)
    try:
        pipeline.edit_deal(viewer, customer_id, deal_id, form.changes(request.POST))
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to, code=refusal.code)
    return answer(request, ok=True, message=_("Deal saved."), to=to)
