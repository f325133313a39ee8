"""The customer page and its actions: follow-ups, contacts, deals, release, freeze, give."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from highseas.accounts.visibility import Viewer
from highseas.customers import timeline
from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.insights.value import level_explanation
from highseas.pools import followups, ownership, requests
from highseas.pools.authority import may_manage, may_move, may_work_on
from highseas.pools.receivers import find_receivers, receivers
from highseas.web import explain, rep_picker, selectors
from highseas.web.forms import (
    ActivityForm,
    CloseDealForm,
    ContactForm,
    DealForm,
    FreezeForm,
    GiveForm,
    ReleaseForm,
    UnfreezeForm,
)
from highseas.web.present import actor_label, event_label
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, viewer_of
from highseas.web.views.collaboration import customer_cards
from highseas.web.views.public import public_card_page

TIMELINE_LENGTH = 100


def _ledger(viewer: Viewer, customer: Customer) -> list[dict[str, Any]]:
    return [
        {
            "kind": e.kind,
            "label": event_label(e.kind),
            "at": e.at,
            "actor": actor_label(e.actor.label if e.actor else None, e.actor_label),
            "from_owner": e.from_owner.label if e.from_owner else "",
            "to_owner": e.to_owner.label if e.to_owner else "",
            "from_pool": e.from_pool.name if e.from_pool else "",
            "to_pool": e.to_pool.name if e.to_pool else "",
            "reason": e.reason_text,
        }
        for e in reversed(list(timeline.ownership_history(viewer, customer.pk)))
    ]


@login_required
def customer_page(request: HttpRequest, customer_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    now = timezone.now()
    try:
        customer = selectors.opened_customer(viewer, customer_id, now)
    except Http404:
        return public_card_page(request, customer_id)  # who holds it, the public fields
    shown = selectors.present_all(viewer, [customer], now)[0]
    is_owner = customer.owner_id == viewer.user.pk
    manages = may_manage(viewer, customer)
    context = {
        "section": "mine" if is_owner else ("console" if manages else "pool"),
        "c": shown,
        "is_owner": is_owner,
        "manages": manages,
        "may_act": may_work_on(viewer, customer),
        "may_move": may_move(viewer, customer),  # not a leave's cover
        "may_reveal": viewer.may_reveal(customer),
        "acquisition": explain.acquisition(customer),
        "recycle": explain.recycle_explanation(customer),
        "level_reason": level_explanation(viewer, customer, now=now),
        "ledger": _ledger(viewer, customer),
        "contacts": timeline.contacts(viewer, customer.pk),
        "follow_ups_shown": timeline.shows_follow_ups(viewer, customer),
        "activities": timeline.activities(viewer, customer.pk, limit=TIMELINE_LENGTH),
        "activity_count": timeline.follow_up_count(viewer, customer.pk),
        "deals": timeline.deals(viewer, customer.pk),
        "activity_form": ActivityForm(None),
        "contact_form": ContactForm(None),
        "deal_form": DealForm(None),
        "release_form": ReleaseForm(None),
        "freeze_form": FreezeForm(None),
        "give_form": GiveForm(None, receivers(viewer)) if manages else None,
        "give_picker": rep_picker.picker(
            viewer,
            field_id="give-owner",
            empty=_("Choose a rep"),
            first=find_receivers(viewer),
        )
        if manages
        else None,
        "pending_request": requests.pending_request(viewer, customer.pk),
        "reason_field": requests.reason_field(customer.pool_id),
        "now": now,
        **customer_cards(viewer, customer, now),
    }
    return render(request, "web/customer.html", context)


def _act(
    request: HttpRequest,
    customer_id: int,
    form_class: Callable[..., Any],
    perform: Callable[[Any, Customer, Any], str],
    *,
    anchor: str = "",
    form_args: tuple[Any, ...] = (),
    receiver_field: str = "",
) -> HttpResponse:
    """Validate the form, call the service, and come back to the customer page saying what
    happened (or why not, in plain words)."""
    viewer = viewer_of(request)
    customer = selectors.visible_customer(viewer, customer_id)
    to = reverse("web:customer", args=[customer.pk]) + anchor
    form = form_class(request.POST, *form_args)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return answer(request, ok=False, message=str(first), to=to)
    try:
        message = perform(viewer.user, customer, form)
    except HighSeasError as refusal:
        receiver = form.cleaned_data[receiver_field].label if receiver_field else ""
        text = plain_words(refusal, receiver=receiver)
        return answer(request, ok=False, message=text, to=to, code=refusal.code)
    return answer(request, ok=True, message=message, to=to)


@login_required
@require_POST
def log_activity(request: HttpRequest, customer_id: int) -> HttpResponse:
    def perform(user: Any, customer: Customer, form: Any) -> str:
        data = form.cleaned_data
        followups.log_activity(user, customer.pk, **data)
        due = Customer.objects.filter(pk=customer.pk).values_list("recycle_due_at", flat=True)[0]
        if due is None:
            return _("Follow-up saved.")
        return _("Follow-up saved. The recycle countdown now runs to %(due)s.") % {
            "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M")
        }

    return _act(request, customer_id, ActivityForm, perform, anchor="#timeline")


@login_required
@require_POST
def add_contact(request: HttpRequest, customer_id: int) -> HttpResponse:
    def perform(user: Any, customer: Customer, form: ContactForm) -> str:
        followups.add_contact(user, customer.pk, **form.service_fields())
        return _("Contact %(name)s added.") % {"name": form.cleaned_data["name"]}

    return _act(request, customer_id, ContactForm, perform, anchor="#contacts")


@login_required
@require_POST
def open_deal(request: HttpRequest, customer_id: int) -> HttpResponse:
    def perform(user: Any, customer: Customer, form: Any) -> str:
        data = form.cleaned_data
        followups.open_deal(user, customer.pk, **data)
        return _("Deal opened.")

    return _act(request, customer_id, DealForm, perform, anchor="#deals")


@login_required
@require_POST
def close_deal(request: HttpRequest, customer_id: int, deal_id: int) -> HttpResponse:
    def perform(user: Any, customer: Customer, form: Any) -> str:
        data = form.cleaned_data
        followups.close_deal(user, customer.pk, deal_id, **data)
        return _("Deal marked as won.") if data["stage"] == "won" else _("Deal marked as lost.")

    return _act(request, customer_id, CloseDealForm, perform, anchor="#deals")


@login_required
@require_POST
def release(request: HttpRequest, customer_id: int) -> HttpResponse:
    def perform(user: Any, customer: Customer, form: Any) -> str:
        data = form.cleaned_data
        outcome = ownership.release(user, customer.pk, reason=data["reason"])
        pool = outcome.customer.pool.name if outcome.customer.pool else ""
        return _("%(name)s went back to %(pool)s.") % {"name": customer.name, "pool": pool}

    return _act(request, customer_id, ReleaseForm, perform)


@login_required
@require_POST
def freeze(request: HttpRequest, customer_id: int) -> HttpResponse:
    def perform(user: Any, customer: Customer, form: Any) -> str:
        data = form.cleaned_data
        ownership.freeze(user, customer.pk, until=data["until"], reason=data["reason"])
        return _("Frozen until %(time)s: it will not be recycled before then.") % {
            "time": timezone.localtime(data["until"]).strftime("%Y-%m-%d %H:%M")
        }

    return _act(request, customer_id, FreezeForm, perform)


@login_required
@require_POST
def unfreeze(request: HttpRequest, customer_id: int) -> HttpResponse:
    def perform(user: Any, customer: Customer, form: Any) -> str:
        data = form.cleaned_data
        ownership.unfreeze(user, customer.pk, reason=data.get("reason", ""))
        return _("Unfrozen: the recycle clock runs again.")

    return _act(request, customer_id, UnfreezeForm, perform)


@login_required
@require_POST
def give(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Assign a pooled customer, or transfer an owned one, to a rep the manager picks (in
    the rep picker; without JavaScript, by the typed name it resolves)."""
    viewer = viewer_of(request)
    typed, unresolved = rep_picker.typed_owner(viewer, request.POST)

    def give_form(data: Any) -> GiveForm:
        if typed:
            data = data.copy()
            data["owner"] = str(typed)
        return GiveForm(data, receivers(viewer), unresolved=unresolved)

    def perform(user: Any, customer: Customer, form: Any) -> str:
        data = form.cleaned_data
        move = ownership.assign if customer.owner_id is None else ownership.transfer
        outcome = move(user, customer.pk, data["owner"], reason=data["reason"])
        message = _("%(name)s now belongs to %(owner)s.") % {
            "name": customer.name,
            "owner": data["owner"].label,
        }
        if outcome.facts.get("unfrozen"):
            message += " " + _("The transfer ended its freeze.")
        return message

    return _act(
        request,
        customer_id,
        give_form,
        perform,
        receiver_field="owner",
    )
