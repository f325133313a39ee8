"""通知设置: the signed-in user's own notification preferences (``notify.preferences``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.engine.errors import HighSeasError
from highseas.notify.preferences import preferences_of, save_preferences
from highseas.web.notification_forms import NotificationSettingsForm
from highseas.web.refusals import plain_words
from highseas.web.responses import viewer_of


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    posted = request.POST if request.method == "POST" else None
    form = NotificationSettingsForm(posted, current=preferences_of(viewer))
    if posted is not None and form.is_valid():
        try:
            save_preferences(viewer, viewer.user.pk, form.changes(), timezone.now())
        except HighSeasError as refusal:
            form.add_error(None, plain_words(refusal))
        else:
            messages.success(request, _("Notification settings saved."))
            return HttpResponseRedirect(reverse("web:notification_settings"))
    return render(
        request,
        "web/notification_settings.html",
        {"section": "inbox", "form": form},
    )
