"""Notifications and reminders: the inbox, planned next contacts, mark read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from highseas.engine.errors import HighSeasError
from highseas.notify import services
from highseas.notify.inbox import by_day, notifications_of
from highseas.web import selectors
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, back_to, viewer_of

PAGE_SIZE = 30


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    now = timezone.now()
    show = request.GET.get("show", "")
    mine = notifications_of(viewer, unread=True if show == "unread" else None)
    page = Paginator(mine, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "section": "inbox",
        "page": page,
        "days": by_day(page.object_list, timezone.localdate(now)),
        "show": show,
        "unread": selectors.unread_count(viewer.user),
        "contacts": selectors.upcoming_contacts(viewer.user, now, days=7)[:15],
        "overdue_contacts": selectors.overdue_contacts(viewer.user, now)[:15],
        "due_soon": selectors.present_all(
            viewer, list(selectors.due_within(viewer, now, days=3)[:20]), now
        ),
        "now": now,
    }
    return render(request, "web/notifications.html", context)


@login_required
@require_POST
def mark_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    to = back_to(request, reverse("web:notifications"))
    try:
        services.mark_read(viewer_of(request).user, notification_id, timezone.now())
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to)
    return answer(
        request,
        ok=True,
        message=_("Marked as read."),
        to=to,
        unread=selectors.unread_count(viewer_of(request).user),
    )


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(viewer_of(request).user, timezone.now())
    return answer(
        request,
        ok=True,
        message=_("%(count)s notifications marked as read.") % {"count": count},
        to=back_to(request, reverse("web:notifications")),
        unread=0,
    )


@login_required
@require_POST
def mark_group_read(request: HttpRequest) -> HttpResponse:
    ids = [int(raw) for raw in request.POST.getlist("ids") if raw.isdigit()]
    count = services.mark_some_read(viewer_of(request).user, ids, timezone.now())
    return answer(
        request,
        ok=True,
        message=_("%(count)s notifications marked as read.") % {"count": count},
        to=back_to(request, reverse("web:notifications")),
        unread=selectors.unread_count(viewer_of(request).user),
    )
