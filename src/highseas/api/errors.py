"""One error shape for every API answer: ``{"code", "detail", ...facts}``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext
from rest_framework import exceptions, status
from rest_framework.response import Response

from highseas.accounts.refusals import note_refusal
from highseas.config.contention import busy_error
from highseas.engine.errors import ErrorCode, HighSeasError

log = logging.getLogger("highseas.refusals")

HTTP_STATUS = {
    ErrorCode.VALIDATION_ERROR: status.HTTP_400_BAD_REQUEST,
    ErrorCode.NOT_AUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.PERMISSION_DENIED: status.HTTP_403_FORBIDDEN,
    ErrorCode.NOT_POOL_MEMBER: status.HTTP_403_FORBIDDEN,
    ErrorCode.NOT_OWNER: status.HTTP_403_FORBIDDEN,
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED: status.HTTP_405_METHOD_NOT_ALLOWED,
    ErrorCode.THROTTLED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.PAYLOAD_TOO_LARGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.LOOKUP_LIMIT_REACHED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.LOGIN_LOCKED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.VIEW_QUOTA_EXCEEDED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.BUSY: status.HTTP_503_SERVICE_UNAVAILABLE,
}

_DRF_CODES: list[tuple[type[exceptions.APIException], ErrorCode]] = [
    (exceptions.ValidationError, ErrorCode.VALIDATION_ERROR),
    (exceptions.ParseError, ErrorCode.VALIDATION_ERROR),
    (exceptions.UnsupportedMediaType, ErrorCode.VALIDATION_ERROR),
    (exceptions.NotAuthenticated, ErrorCode.NOT_AUTHENTICATED),
    (exceptions.AuthenticationFailed, ErrorCode.NOT_AUTHENTICATED),
    (exceptions.PermissionDenied, ErrorCode.PERMISSION_DENIED),
    (exceptions.NotFound, ErrorCode.NOT_FOUND),
    (exceptions.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED),
    (exceptions.NotAcceptable, ErrorCode.VALIDATION_ERROR),
    (exceptions.Throttled, ErrorCode.THROTTLED),
]


def http_status_for(code: ErrorCode) -> int:
    return HTTP_STATUS.get(code, status.HTTP_409_CONFLICT)


def error_response(error: HighSeasError) -> Response:
    """The error as JSON; the engine's English sentences are translated here, at the edge."""
    body = {**error.as_dict(), "detail": gettext(error.detail)}
    return Response(body, status=http_status_for(error.code))


def _from_drf(exc: exceptions.APIException) -> HighSeasError:
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), ErrorCode.VALIDATION_ERROR)
    facts: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = "Some fields are not valid."
        facts["errors"] = exc.detail
    else:
        detail = str(exc.detail)
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        facts["retry_after_seconds"] = int(wait)
    return HighSeasError(code, detail, **facts)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map every known failure to the stable JSON shape; unknown ones stay server errors.

    An expected refusal is one log line (code, method, path, user), never a traceback, and a
    permission denial is an audit row (unless the refusing service already wrote one)."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, HighSeasError):
        error = exc
    elif isinstance(exc, exceptions.APIException):
        error = _from_drf(exc)
    elif (busy := busy_error(exc)) is not None:  # a lost lock: rolled back, send it again
        error = busy
    else:
        return None
    request = context.get("request")
    note_refusal(getattr(request, "_request", request), error)
    response = error_response(error)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Token realm="api"'
    wait = getattr(exc, "wait", None) or error.facts.get("retry_after_seconds")
    if wait:
        response["Retry-After"] = str(int(wait))
    return response
