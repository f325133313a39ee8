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
from highseas.pools.models import Pool
from highseas.pools.preview import PolicyPreview, preview_policy
from highseas.pools.services import save_pool
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


def _preview_context(viewer: Any, preview: PolicyPreview) -> dict[str, Any]:
    """The preview as the manager may see it: every count, but only visible customers' rows."""
    visible = selectors.visible_ids(viewer, [row["customer"] for row in preview.customers])
    rows = [row for row in preview.customers if row["customer"] in visible]
    return {
        "preview": preview,
        "preview_rows": rows[:SHOWN_ROWS],
        "hidden_rows": len(preview.customers) - len(rows),
        "more_rows": max(len(rows) - SHOWN_ROWS, 0),
        "by_owner_chart": charts.bars(
            sorted(preview.by_owner.items(), key=lambda item: (-item[1], item[0]))
        ),
        "by_day_chart": charts.columns(list(preview.by_day.items())),
        "delta": len(preview.customers) - preview.current_rules_count,
    }


@manager_required
def pool_policy(request: HttpRequest, pool_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    if pool_id not in selectors.editable_pool_ids(viewer):
        raise Http404
    pool = Pool.objects.select_related("claim_policy", "recycle_policy").get(pk=pool_id)
    form = PoolPolicyForm(request.POST if request.method == "POST" else None, pool=pool)
    context: dict[str, Any] = {"section": "console", "tab": "pools", "pool": pool, "form": form}
    if request.method == "POST" and form.is_valid():
        fingerprint = form.fingerprint()
        if request.POST.get("action") == "save" and form.cleaned_data["previewed"] == fingerprint:
            save_pool(pool, claim_policy=form.claim_policy(), recycle_policy=form.recycle_policy())
            messages.success(
                request,
                _("The policies of %(pool)s are saved; owned customers' countdowns follow them.")
                % {"pool": pool.name},
            )
            return HttpResponseRedirect(reverse("web:pools"))
        if request.POST.get("action") == "save":
            context["changed_since_preview"] = True
        preview = preview_policy(
            pool, form.recycle_policy(), days=form.cleaned_data["days"], now=timezone.now()
        )
        context.update(_preview_context(viewer, preview), fingerprint=fingerprint)
    return render(request, "web/console/pool_policy.html", context)
