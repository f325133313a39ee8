"""``/favicon.ico``: browsers and tools ask for it at the root; it is a local static file."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static


def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponsePermanentRedirect(static("highseas/favicon.ico"))
