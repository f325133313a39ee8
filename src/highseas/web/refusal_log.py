"""Web refusals (403/404, a service's uncaught refusal, and a write that lost to a lock:
``config.contention``) as one log line, not a traceback.

Django logs an uncaught ``PermissionDenied`` or ``Http404`` with its traceback; this middleware
answers them first, with the same 403/404 pages, logs one line (code, path, user) and writes a
``permission_denied`` audit row for a 403, through ``accounts.refusals`` like the API.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults

from highseas.accounts.refusals import note_refusal
from highseas.config.contention import busy_error
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, is_async

STATUS = {
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.NOT_OWNER: 403,
    ErrorCode.NOT_POOL_MEMBER: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.VIEW_QUOTA_EXCEEDED: 429,
}


class RefusalMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, PermissionDenied):
            note_refusal(request, HighSeasError(ErrorCode.PERMISSION_DENIED, str(exc)))
            return defaults.permission_denied(request, exc)
        if isinstance(exc, Http404):
            note_refusal(request, HighSeasError(ErrorCode.NOT_FOUND, str(exc)))
            return defaults.page_not_found(request, exc)
        busy = busy_error(exc)  # a lost lock: rolled back, send it again
        if busy is not None:
            note_refusal(request, busy)
            response: HttpResponse
            if is_async(request):  # a button's request: the page shows the message
                response = answer(request, ok=False, message=plain_words(busy), to="", code="busy")
                response.status_code = 503
            else:
                response = HttpResponse(plain_words(busy), status=503, content_type="text/plain")
            response["Retry-After"] = str(busy.facts["retry_after_seconds"])
            return response
        if isinstance(exc, HighSeasError):
            note_refusal(request, exc)
            status = STATUS.get(exc.code, 409)
            return HttpResponse(plain_words(exc), status=status, content_type="text/plain")
        return None
