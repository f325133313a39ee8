"""Answers to a form post: a redirect with a message, or JSON for the page's small script.

Every action works without JavaScript (post, redirect, the message shows as a toast). When
``static/highseas/app.js`` submits a form with ``fetch`` it sends ``X-HighSeas-Async: 1`` and
gets ``{"ok", "level", "message", …}`` back, plus any partial HTML the page swaps in.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme

from highseas.accounts.visibility import viewer_of

__all__ = ["answer", "back_to", "is_async", "viewer_of"]

ASYNC_HEADER = "HTTP_X_HIGHSEAS_ASYNC"
LEVELS = {"success": messages.SUCCESS, "error": messages.ERROR, "warning": messages.WARNING}


def is_async(request: HttpRequest) -> bool:
    return request.META.get(ASYNC_HEADER) == "1"


def back_to(request: HttpRequest, fallback: str) -> str:
    """The page the form came from (``next``), when it is one of ours."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def answer(
    request: HttpRequest,
    *,
    ok: bool,
    message: str,
    to: str,
    level: str = "",
    **extra: Any,
) -> HttpResponse:
    level = level or ("success" if ok else "error")
    if is_async(request):
        status = 200 if ok else 409
        return JsonResponse({"ok": ok, "level": level, "message": message, **extra}, status=status)
    messages.add_message(request, LEVELS[level], message)
    return HttpResponseRedirect(to)
