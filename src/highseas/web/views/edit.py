"""Editing a customer's business fields and a contact: each page calls one service door
(``pools.editing.edit_customer``, ``pools.contact_edits.edit_contact``) and shows its answer.

A post carrying a field the form does not offer (``owner``, or ``level`` for a rep) is passed
on as sent: the service refuses it, and nothing changes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from highseas.engine.duplicates import EntryPoint
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.contact_edits import edit_contact, editable_contact, editable_fields
from highseas.pools.editing import edit_customer, may_edit
from highseas.web import selectors
from highseas.web.edit_forms import ContactEditForm, CustomerEditForm
from highseas.web.refusals import plain_words
from highseas.web.region_fields import region_options
from highseas.web.responses import viewer_of


def _show_refusal(form: Any, refusal: HighSeasError) -> str:
    """Field errors go under their fields; anything else (a forged field) above the form.
    Returns the refusal's code, which the page carries for scripts and tests."""
    errors = refusal.facts.get("errors") or {}
    placed = False
    if refusal.code is ErrorCode.VALIDATION_ERROR:
        for name, problems in errors.items():
            if name in form.fields:
                form.add_error(name, [str(p) for p in problems])
                placed = True
    if not placed:
        fields = refusal.facts.get("fields") or sorted(errors)
        named = f" ({', '.join(fields)})" if fields else ""
        form.add_error(None, plain_words(refusal) + named)
    return refusal.code.value


@login_required
def edit_customer_page(request: HttpRequest, customer_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    customer = selectors.visible_customer(viewer, customer_id)
    to = reverse("web:customer", args=[customer.pk])
    if not may_edit(viewer, customer):
        messages.error(request, _("Only the owner or their manager may edit."))
        return HttpResponseRedirect(to)
    posted = request.POST if request.method == "POST" else None
    refused = ""
    form = CustomerEditForm(posted, viewer=viewer, customer=customer)
    if posted is not None and form.is_valid():
        try:
            edited = edit_customer(
                viewer, customer.pk, form.changes(posted), entry_point=EntryPoint.MANUAL
            )
        except HighSeasError as refusal:
            refused = _show_refusal(form, refusal)
        else:
            if edited.warnings:
                messages.warning(request, _("Saved, but it may duplicate another customer."))
            messages.success(request, _("Saved.") if edited.changed else _("Nothing changed."))
            return HttpResponseRedirect(to)
    context = {
        "section": "mine",
        "c": customer,
        "form": form,
        "refused": refused,
        "region_options": region_options(),
    }
    return render(request, "web/customer_edit.html", context, status=400 if form.errors else 200)


@login_required
def edit_contact_page(request: HttpRequest, customer_id: int, contact_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    customer = selectors.visible_customer(viewer, customer_id)
    to = reverse("web:customer", args=[customer.pk]) + "#contacts"
    try:
        contact = editable_contact(viewer, customer.pk, contact_id)
    except HighSeasError as refusal:
        if refusal.code is ErrorCode.NOT_FOUND:
            raise Http404 from refusal
        messages.error(request, plain_words(refusal))
        return HttpResponseRedirect(to)
    posted = request.POST if request.method == "POST" else None
    refused = ""
    form = ContactEditForm.of(posted, contact, editable_fields(viewer, contact))
    if posted is not None and form.is_valid():
        try:
            edit_contact(viewer, customer.pk, contact.pk, form.changes(posted))
        except HighSeasError as refusal:
            refused = _show_refusal(form, refusal)
        else:
            messages.success(
                request, _("Contact %(name)s saved.") % {"name": form.cleaned_data["name"]}
            )
            return HttpResponseRedirect(to)
    context = {
        "section": "mine",
        "c": customer,
        "contact": contact,
        "form": form,
        "refused": refused,
    }
    return render(request, "web/contact_edit.html", context, status=400 if form.errors else 200)
