"""公共检索: the search page for everyone, its settings page for admins, and the public card
of a customer the viewer may not open (who holds it, and the public fields only)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from highseas.customers.models import Customer
from highseas.customers.public import STATUS_LABELS, PublicStatus, public_card, public_settings
from highseas.customers.public_settings import save_public_settings
from highseas.engine.errors import HighSeasError
from highseas.pools.public_search import find_public
from highseas.web.public_forms import PublicSearchForm, PublicSettingsForm, field_label
from highseas.web.refusals import plain_words
from highseas.web.responses import viewer_of


def _shown(name: str, value: Any) -> Any:
    """A stored value as a reader reads it (a choice's label, not its code)."""
    field = Customer._meta.get_field(name)
    choices = dict(getattr(field, "flatchoices", None) or [])
    return choices.get(value, value) if choices else value


def _cells(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "status_label": STATUS_LABELS[PublicStatus(row["status"])],
        "values": [_shown(name, row.get(name)) for name in fields],
    }


@login_required
def public_search_page(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    form = PublicSearchForm(request.GET if "q" in request.GET else None)
    context: dict[str, Any] = {"section": "search", "form": form, "results": None}
    current = public_settings()
    if form.is_bound and form.is_valid():
        try:
            found = find_public(
                viewer,
                form.cleaned_data["q"],
                before=form.cleaned_data.get("before"),
                address=request.META.get("REMOTE_ADDR") or None,
            )
        except HighSeasError as refusal:
            form.add_error("q", plain_words(refusal))
        else:
            current = found.settings
            context["results"] = [_cells(row, current.fields) for row in found.rows]
            context["next_before"] = found.next_before
    context["headers"] = [field_label(name) for name in current.fields]
    context["scope_prospects"] = current.prospects_only
    return render(request, "web/public_search.html", context)


@login_required
def public_settings_page(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    if not viewer.is_admin:
        raise Http404
    posted = request.POST if request.method == "POST" else None
    form = PublicSettingsForm(posted, current=public_settings())
    if posted is not None and form.is_valid():
        try:
            data = form.cleaned_data
            save_public_settings(
                viewer, fields=data["public_fields"], scope=data["scope"], statuses=data["statuses"]
            )
        except HighSeasError as refusal:
            form.add_error(None, plain_words(refusal))
        else:
            messages.success(request, _("Public search settings saved."))
            return HttpResponseRedirect(reverse("web:public_settings"))
    return render(request, "web/console/public_settings.html", {"section": "console", "form": form})


def public_card_page(request: HttpRequest, customer_id: int) -> HttpResponse:
    """A customer the viewer may not open: who holds it and its public fields, or a 404."""
    card = public_card(customer_id)
    if card is None:
        raise Http404
    current = public_settings()
    context = {
        "section": "search",
        "card": card,
        "rows": [(field_label(n), _shown(n, card.get(n))) for n in current.fields],
        "status_label": STATUS_LABELS[PublicStatus(card["status"])],
    }
    return render(request, "web/customer_public.html", context)
