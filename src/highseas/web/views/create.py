"""Registering a new customer: a rep's is theirs unless they are at their holding cap."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from highseas.accounts.visibility import Viewer
from highseas.engine.bounds import parse_id
from highseas.engine.errors import HighSeasError
from highseas.intake.registration import may_name_owner, register_customer
from highseas.pools.receivers import find_receivers, receivers
from highseas.web import rep_picker, selectors
from highseas.web.forms import CustomerForm
from highseas.web.refusals import plain_words
from highseas.web.region_fields import region_options
from highseas.web.rep_picker import RepPicker
from highseas.web.responses import viewer_of


def _form(viewer: Viewer, data: Any) -> tuple[CustomerForm, RepPicker | None]:
    """Managers and admins may name an owner among the people they see (in the rep picker;
    without JavaScript, by a typed name it resolves), or leave the customer in a pool; a rep
    registers customers for themselves."""
    picks_owner = may_name_owner(viewer)
    typed, unresolved = rep_picker.typed_owner(viewer, data or {}) if picks_owner else (None, "")
    if typed:
        data = data.copy()
        data["owner"] = str(typed)
    pools = selectors.listable_pools(viewer).filter(is_reassign_queue=False)
    form = CustomerForm(data, pools=pools, receivers=receivers(viewer) if picks_owner else None)
    form.fields["pool"].initial = pools.first()
    if unresolved:
        form.add_error("owner", unresolved)
    if not picks_owner:
        return form, None
    picked = parse_id(str(data.get("owner") or "")) if data is not None else None
    return form, rep_picker.picker(
        viewer,
        field_id="id_owner",
        empty="—",
        first=find_receivers(viewer),
        picked=picked,
        typed=data.get(rep_picker.TYPED, "") if unresolved else "",
        error=" ".join(str(e) for e in form.errors.get("owner") or ()) if data else "",
    )


def _possible_duplicates(warnings: list[dict[str, Any]]) -> str:
    names = "、".join(
        f"{w.get('name', '')}（{w['holder']}）" if w.get("holder") else str(w.get("name", ""))
        for w in warnings[:3]
    )
    return _("Registered, but it may duplicate: %(names)s. Check before you follow it up.") % {
        "names": names
    }


@login_required
def new_customer(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    form, owner_picker = _form(viewer, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            created = register_customer(
                viewer,
                form.service_fields(),
                owner=form.cleaned_data.get("owner"),
                pool=form.cleaned_data.get("pool"),
                entry_point="manual",
            )
        except HighSeasError as refusal:
            form.add_error(None, plain_words(refusal))
        else:
            if created.note:
                messages.warning(request, created.note)
            if created.warnings:
                messages.warning(request, _possible_duplicates(created.warnings))
            if not created.note:
                messages.success(request, _("%(name)s is registered.") % {"name": created.name})
            if created.customer is not None:
                return HttpResponseRedirect(reverse("web:customer", args=[created.customer.pk]))
            return HttpResponseRedirect(reverse("web:mine"))
    context = {
        "section": "new",
        "form": form,
        "owner_picker": owner_picker,
        "region_options": region_options(),
    }
    return render(request, "web/customer_new.html", context)
