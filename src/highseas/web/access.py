"""Who may open the manager console: managers and admins; everyone else gets a 403 page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from highseas.web.responses import viewer_of

View = Callable[..., HttpResponse]


def manager_required(view: View) -> View:
    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        viewer = viewer_of(request)
        if not viewer.is_manager_or_admin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded
