"""Pool policies: the list, and the editor that previews before it saves.

Preview → confirm → save: "preview" shows what the proposed recycle settings would take back in
the next N days (``preview_policy``, the sweep's own judgement, no writes); "save" is offered
with a fingerprint of exactly those settings and refuses to save anything else.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.customers.choices import CustomerStatus
from highseas.pools.policy_edits import editable_pools, save_policies
from highseas.pools.preview import PolicyPreview
from highseas.pools.reports import recycle_preview
from highseas.web import charts, selectors
from highseas.web.access import manager_required
from highseas.web.policy_form import PoolPolicyForm
from highseas.web.responses import viewer_of

SHOWN_ROWS = 20


@manager_required
def pools(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    listed = (
        selectors.listable_pools(viewer)
        .select_related("claim_policy", "recycle_policy")
        .annotate(
            pooled=Count("customers", filter=Q(customers__status=CustomerStatus.POOLED)),
            held=Count(
                "customers",
                filter=Q(customers__status__in=[CustomerStatus.OWNED, CustomerStatus.FROZEN]),
            ),
        )
    )
    context = {
        "section": "console",
        "tab": "pools",
        "pools": listed,
        "editable": selectors.editable_pool_ids(viewer),
    }
    return render(request, "web/console/pools.html", context)


def _preview_context(preview: PolicyPreview) -> dict[str, Any]:
    """The preview as the service scoped it to the manager: rows, counts and charts alike."""
    return {
        "preview": preview,
        "preview_rows": preview.customers[:SHOWN_ROWS],
        "hidden_rows": 0,
        "more_rows": max(len(preview.customers) - SHOWN_ROWS, 0),
        "by_owner_chart": charts.bars(
            sorted(preview.by_owner.items(), key=lambda item: (-item[1], item[0]))
        ),
        "by_day_chart": charts.columns(list(preview.by_day.items())),
        "delta": len(preview.customers) - preview.current_rules_count,
    }


@manager_required
def pool_policy(request: HttpRequest, pool_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    pool = (
        editable_pools(viewer)
        .select_related("claim_policy", "recycle_policy")
        .filter(pk=pool_id)
        .first()
    )
    if pool is None:
        raise Http404
    form = PoolPolicyForm(request.POST if request.method == "POST" else None, pool=pool)
    context: dict[str, Any] = {"section": "console", "tab": "pools", "pool": pool, "form": form}
    if request.method == "POST" and form.is_valid():
        fingerprint = form.fingerprint()
        if request.POST.get("action") == "save" and form.cleaned_data["previewed"] == fingerprint:
            save_policies(
                viewer, pool, claim_policy=form.claim_policy(), recycle_policy=form.recycle_policy()
            )
            messages.success(
                request,
                _("The policies of %(pool)s are saved; owned customers' countdowns follow them.")
                % {"pool": pool.name},
            )
            return HttpResponseRedirect(reverse("web:pools"))
        if request.POST.get("action") == "save":
            context["changed_since_preview"] = True
        preview = recycle_preview(
            viewer,
            pool.pk,
            form.recycle_policy(),
            days=form.cleaned_data["days"],
            now=timezone.now(),
        )
        context.update(_preview_context(preview), fingerprint=fingerprint)
    return render(request, "web/console/pool_policy.html", context)
