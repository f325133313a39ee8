"""The rep's workspace: home, the pool list with one-click claim (or a request with its
reason, which the rep may withdraw), my customers."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from highseas.customers.search import row_name_filter
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import ownership, requests
from highseas.pools.listing import PAGE_SIZE, listed_customers
from highseas.pools.quotas import standings
from highseas.pools.views_quota import views_left
from highseas.web import selectors
from highseas.web.forms import PoolFilterForm
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, back_to, viewer_of

MINE_PAGE_SIZE = 30


@login_required
def home(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    now = timezone.now()
    due_soon = list(selectors.due_within(viewer, now, days=selectors.DUE_SOON_DAYS)[:6])
    context = {
        "section": "home",
        **selectors.holding_counts(viewer),
        "due_soon_count": selectors.due_within(viewer, now, days=selectors.DUE_SOON_DAYS).count(),
        "due_days": selectors.DUE_SOON_DAYS,
        "visible": selectors.visible_count(viewer),
        "pools": selectors.listable_pools(viewer),
        "standings": standings(viewer.user, now),
        "team": viewer.user.team,
        "due_soon": selectors.present_all(viewer, due_soon, now),
        "contacts": selectors.upcoming_contacts(viewer.user, now, days=2)[:6],
        "overdue_contacts": selectors.overdue_contacts(viewer.user, now)[:6],
        "recent": viewer.customers().filter(owner=viewer.user).order_by("-owned_since")[:6],
        "now": now,
    }
    return render(request, "web/home.html", context)


@login_required
def pool_list(request: HttpRequest) -> HttpResponse:
    """One pool's customers as the viewer may see them, filtered, newest first, by cursor."""
    viewer = viewer_of(request)
    now = timezone.now()
    pools = list(selectors.listable_pools(viewer))
    form = PoolFilterForm(request.GET, pools)
    form.is_valid()
    pool = next((p for p in pools if p.pk == form.cleaned_data.get("pool")), None)
    pool = pool or (pools[0] if pools else None)
    context: dict[str, object] = {"section": "pool", "form": form, "pool": pool, "pools": pools}
    if pool is not None:
        narrowing = form.narrowing()
        status = narrowing.pop("status", None)
        after, before = form.cleaned_data.get("after"), form.cleaned_data.get("before")
        customers = listed_customers(
            viewer,
            filters={"pool_id": pool.pk, **narrowing},
            statuses=None if status is None else [status],
            text=form.cleaned_data.get("q") or "",
            after=after,
            before=before,
            limit=PAGE_SIZE + 1,
        )
        page = selectors.page_of(viewer, customers, now, after=after, before=before, size=PAGE_SIZE)
        pending = requests.pending_requests(viewer, [row.id for row in page.rows], now)
        context["page"] = page
        context["rows"] = [(row, pending.get(row.id)) for row in page.rows]
        context["reason_field"] = requests.reason_field(pool.pk)
        context["options"] = selectors.pool_options(pool.pk)
        context["reset_url"] = f"?pool={pool.pk}"
        context["standing"] = next(
            (s for s in standings(viewer.user, now) if s["pool"] == pool.pk), None
        )
        context["views"] = views_left(viewer, pool.pk, now=now)
        active = [
            name
            for name in ("q", "province", "city", "industry", "level", "source", "stage")
            if form.cleaned_data.get(name)
        ]
        context["is_filtered"] = bool(active)
        context["active_filters"] = len(active)
    return render(request, "web/pool.html", context)


def _claimed_message(name: str, due: datetime | None) -> str:
    if due is None:
        return _("%(name)s is yours now.") % {"name": name}
    return _("%(name)s is yours now. Follow it up before %(due)s to keep it.") % {
        "name": name,
        "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M"),
    }


@login_required
@require_POST
def claim(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Claim from the pool. The service judges every case, including a customer someone took
    a moment ago (it names the holder, as SPEC §5 asks), so no visibility check comes first:
    outside the rep's pools the service answers ``not_pool_member`` before anything else."""
    viewer = viewer_of(request)
    back = back_to(request, reverse("web:pool"))
    try:
        outcome = ownership.claim(viewer.user, customer_id, reason=request.POST.get("reason", ""))
    except HighSeasError as refusal:
        if refusal.code == ErrorCode.ALREADY_OWNED:  # its page may be closed to this rep now
            back = reverse("web:pool")
        return answer(request, ok=False, message=plain_words(refusal), to=back, code=refusal.code)
    customer = outcome.customer
    standing = outcome.standing or next(  # a request's standing is read
        (s for s in standings(viewer.user) if s["pool"] == customer.pool_id),
        None,
    )
    quota_html = render_to_string(
        "web/partials/quota.html", {"standing": standing, "anchor": True}, request
    )
    if outcome.request is not None:
        message = _("This pool needs a manager's approval; your request for %(name)s is waiting.")
        return answer(
            request,
            ok=True,
            level="warning",
            message=message % {"name": customer.name},
            to=back,
            state="requested",
            quota_html=quota_html,
        )
    return answer(
        request,
        ok=True,
        message=_claimed_message(customer.name, outcome.customer.recycle_due_at),
        to=back,
        state="claimed",
        quota_html=quota_html,
        customer_url=reverse("web:customer", args=[customer.pk]),
        link_text=_("Open"),
    )


@login_required
@require_POST
def withdraw_request(request: HttpRequest, request_id: int) -> HttpResponse:
    """The rep takes back a pending claim request; the service refuses anyone else."""
    back = back_to(request, reverse("web:pool"))
    try:
        withdrawn = requests.withdraw(viewer_of(request).user, request_id)
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=back, code=refusal.code)
    message = _("Your request for %(name)s is withdrawn.") % {"name": withdrawn.customer.name}
    return answer(request, ok=True, message=message, to=back, state="withdrawn")


@login_required
def my_customers(request: HttpRequest) -> HttpResponse:
    """The rep's own customers with their recycle countdowns, soonest first."""
    viewer = viewer_of(request)
    now = timezone.now()
    customers = selectors.my_customers(viewer)
    view = request.GET.get("view", "")
    if view == "due":
        customers = selectors.due_within(viewer, now, days=selectors.DUE_SOON_DAYS)
    elif view == "frozen":
        customers = customers.filter(status="frozen")
    if query := request.GET.get("q", "").strip():
        customers = customers.filter(row_name_filter(query))  # their own: a few hundred
    page = Paginator(customers, MINE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "section": "mine",
        "page": page,
        "rows": selectors.present_all(viewer, list(page.object_list), now),
        "view": view,
        "q": query,
        **selectors.holding_counts(viewer),
        "due_count": selectors.due_within(viewer, now, days=selectors.DUE_SOON_DAYS).count(),
        "due_days": selectors.DUE_SOON_DAYS,
    }
    return render(request, "web/mine.html", context)
