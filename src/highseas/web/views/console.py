"""The manager console: team customers with bulk assign/transfer/freeze, claim approvals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.engine.bounds import parse_id
from highseas.engine.errors import HighSeasError
from highseas.pools import ownership, requests
from highseas.pools.listing import PAGE_SIZE, listed_customers
from highseas.pools.models import ClaimRequest
from highseas.pools.receivers import find_receivers, receivers
from highseas.web import rep_picker, selectors
from highseas.web.access import manager_required
from highseas.web.forms import BulkForm, DecisionForm
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, back_to, viewer_of

STATUS_VIEWS = {"held": ("owned", "frozen"), "pooled": ("pooled",), "frozen": ("frozen",)}


def _int(raw: str | None) -> int | None:
    return parse_id(raw) if raw else None


@manager_required
def team_customers(request: HttpRequest) -> HttpResponse:
    """Every customer the manager sees (their subtree's and their pools'), filtered; a page
    is read by ``pools.listing.listed_customers``, as the API's customer list is."""
    viewer = viewer_of(request)
    now = timezone.now()
    params = request.GET
    status = params.get("status", "held")
    typed, owner_error = rep_picker.typed_owner(viewer, params)
    owner = typed or _int(params.get("owner"))
    filters = {
        name: value
        for name, value in (
            ("owner_id", owner),
            ("pool_id", _int(params.get("pool"))),
            ("level", params.get("level", "")),
        )
        if value
    }
    query = params.get("q", "").strip()
    due = Q(recycle_due_at__lte=now + timedelta(days=7)) if params.get("due") == "7" else None
    after, before = _int(params.get("after")), _int(params.get("before"))
    customers = listed_customers(
        viewer,
        filters=filters,
        extra=due,
        statuses=STATUS_VIEWS.get(status, STATUS_VIEWS["held"]),
        text=query,
        after=after,
        before=before,
        limit=PAGE_SIZE + 1,
    )
    first = find_receivers(viewer)
    context = {
        "section": "console",
        "tab": "customers",
        "page": selectors.page_of(
            viewer, customers, now, after=after, before=before, size=PAGE_SIZE
        ),
        "owner_picker": rep_picker.picker(
            viewer,
            field_id="t-owner",
            empty=_("All"),
            first=first,
            picked=owner,
            typed=params.get(rep_picker.TYPED, "") if owner_error else "",
            error=owner_error,
        ),
        "bulk_picker": rep_picker.picker(
            viewer, field_id="bulk-owner", empty=_("Choose a rep"), first=first
        ),
        "pools": selectors.listable_pools(viewer),
        "filters": {
            "status": status,
            "owner": owner,
            "pool": _int(params.get("pool")),
            "level": filters.get("level", ""),
            "q": query,
            "due": params.get("due", ""),
        },
        "bulk_form": BulkForm(None, receivers(viewer)),
        "pending": _pending_count(viewer),
    }
    return render(request, "web/console/customers.html", context)


def _pending_count(viewer: Any) -> int:
    return requests.requests_visible_to(viewer).filter(state=ClaimRequest.State.PENDING).count()


def _apply(user: User, customer: Customer, data: dict[str, Any]) -> bool:
    """Apply the bulk action to one customer; True when a transfer ended its freeze."""
    reason = data.get("reason") or ""
    if data["action"] == "give":
        move = ownership.assign if customer.owner_id is None else ownership.transfer
        return bool(move(user, customer.pk, data["owner"], reason=reason).facts.get("unfrozen"))
    if data["action"] == "freeze":
        ownership.freeze(user, customer.pk, until=data["until"], reason=reason)
    else:
        ownership.unfreeze(user, customer.pk, reason=reason)
    return False


@manager_required
@require_POST
def bulk_action(request: HttpRequest) -> HttpResponse:
    """One service call per selected customer; each succeeds or is refused on its own."""
    viewer = viewer_of(request)
    to = back_to(request, reverse("web:team_customers"))
    data = request.POST.copy()
    typed, unresolved = rep_picker.typed_owner(viewer, data)
    if unresolved and data.get("action") == "give":
        return answer(request, ok=False, message=unresolved, to=to)
    if typed:
        data["owner"] = str(typed)
    form = BulkForm(data, receivers(viewer))
    if not form.is_valid():
        errors = form.errors.get("ids") and [_("Select at least one customer.")]
        first = errors or next(iter(form.errors.values()))
        return answer(request, ok=False, message=str(first[0]), to=to)
    ids = selectors.visible_ids(viewer, form.cleaned_data["ids"])
    receiver = form.cleaned_data["owner"].label if form.cleaned_data.get("owner") else ""
    done, refused, unfrozen = 0, [], []
    for customer in viewer.customers().filter(pk__in=ids).order_by("pk"):
        try:
            if _apply(viewer.user, customer, form.cleaned_data):
                unfrozen.append(customer.name)
            done += 1
        except HighSeasError as refusal:
            reason = plain_words(refusal, receiver=receiver)
            refused.append(_("%(name)s: %(reason)s") % {"name": customer.name, "reason": reason})
    counts = {"done": done, "total": len(ids)}
    message = _("%(done)s of %(total)s customers done.") % counts
    if refused:
        message = _("%(done)s of %(total)s customers done. Not done: %(refused)s") % {
            **counts,
            "refused": " ".join(refused[:5]),
        }
    if unfrozen:
        message += " " + _("The transfer ended the freeze of: %(names)s.") % {
            "names": "、".join(unfrozen)
        }
    level = "success" if not refused else ("warning" if done else "error")
    return answer(request, ok=done > 0, level=level, message=message, to=to)


@manager_required
def approvals(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    visible = requests.requests_visible_to(viewer).select_related(
        "customer__pool", "decided_by", "requester__team"
    )
    pending = visible.filter(state=ClaimRequest.State.PENDING).order_by("created_at")
    decided = visible.exclude(state=ClaimRequest.State.PENDING).order_by("-decided_at", "-id")
    context = {
        "section": "console",
        "tab": "approvals",
        "pending_requests": pending[:100],
        "decided": decided[:20],
        "pending": pending.count(),
        "now": timezone.now(),
    }
    return render(request, "web/console/approvals.html", context)


@manager_required
@require_POST
def decide(request: HttpRequest, request_id: int, decision: str) -> HttpResponse:
    viewer = viewer_of(request)
    to = reverse("web:approvals")
    visible = requests.requests_visible_to(viewer).filter(pk=request_id).first()
    if visible is None or decision not in ("approve", "reject"):
        return answer(request, ok=False, message=_("No such claim request."), to=to)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    act = requests.approve if decision == "approve" else requests.reject
    try:
        act(viewer.user, request_id, note=note)
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to)
    names = {"rep": visible.requester.label, "name": visible.customer.name}
    if decision == "approve":
        message = _("Approved: %(name)s now belongs to %(rep)s.") % names
    else:
        message = _("Rejected %(rep)s's claim on %(name)s.") % names
    return answer(request, ok=True, message=message, to=to)
