"""Request bodies within bounds: size before anything reads them, JSON depth before parsing.

1. ``RequestBounds`` (middleware, first in the chain) refuses a request whose declared
   ``Content-Length`` exceeds ``HIGHSEAS_MAX_REQUEST_BYTES`` with ``payload_too_large`` (413),
   before authentication, sessions or any parser — so an anonymous 20 MB body costs nothing;
   and a query string carrying a NUL character with ``validation_error`` (400).
2. ``BoundedJSONParser`` reads at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes of a JSON body
   (a body without a declared length included) and refuses more with ``payload_too_large``;
   it refuses JSON nested deeper than ``MAX_JSON_DEPTH`` with ``validation_error`` before
   decoding it, so a 1,000-deep body is no recursion error; and a NUL character in any text
   or key (PostgreSQL stores none) with ``validation_error``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import IO, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from highseas.engine.bounds import has_nul
from highseas.engine.errors import ErrorCode, HighSeasError, gettext_noop

MAX_JSON_DEPTH = 20
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
TOO_LARGE = gettext_noop("The request is too large.")


def max_request_bytes() -> int:
    return int(settings.HIGHSEAS_MAX_REQUEST_BYTES)


def json_depth(raw: bytes) -> int:
    """How deeply ``raw`` nests arrays and objects (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", raw)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


class RequestBounds:
    """Middleware: refuses a declared body over the limit before anything reads it, and a
    query string with a NUL character (no database column can hold one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit = max_request_bytes()
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            return JsonResponse(
                {
                    "code": ErrorCode.PAYLOAD_TOO_LARGE.value,
                    "detail": _(TOO_LARGE),
                    "limit_bytes": limit,
                },
                status=413,
            )
        if "%00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in value for values in request.GET.lists() for value in values[1]
        ):
            return JsonResponse(
                {
                    "code": ErrorCode.VALIDATION_ERROR.value,
                    "detail": _("Text may not contain NUL characters."),
                },
                status=400,
            )
        return self.get_response(request)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a size and a depth limit (see the module's steps)."""

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        if stream is None:
            return None
        limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise HighSeasError(ErrorCode.PAYLOAD_TOO_LARGE, TOO_LARGE, limit_bytes=limit)
        if json_depth(raw) > MAX_JSON_DEPTH:
            raise ParseError(
                _("JSON nested deeper than %(depth)d levels.") % {"depth": MAX_JSON_DEPTH}
            )
        try:
            data = json.loads(raw.decode(settings.DEFAULT_CHARSET), parse_constant=_no_constant)
        except (ValueError, RecursionError) as error:
            raise ParseError(_("JSON parse error.")) from error
        if has_nul(data):
            raise ParseError(_("Text may not contain NUL characters."))
        return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
