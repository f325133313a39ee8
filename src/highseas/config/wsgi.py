"""The WSGI application every server runs (waitress embedded, gunicorn in production).

Two Django handlers share one process: the full one, and one for API requests that carry an
``Authorization: Token …`` header (``/api/v1/``, sign-in excepted), which leaves out the
middleware such a request never needs. For those requests DRF's token authentication decides
who is calling before any session could (knox either accepts the token or refuses the request,
never falling back to the session), and the answer is JSON:

- ``WhiteNoiseMiddleware`` serves only ``STATIC_URL``, which is not under ``/api/v1/``;
- ``SessionMiddleware`` and ``AuthenticationMiddleware``: the session is never read (DRF sets
  ``request.user`` from the token), so neither adds a header or a statement;
- ``CsrfViewMiddleware``: a header a browser cannot send cross-site is not forgeable, and DRF
  views are CSRF-exempt anyway (its session authentication checks CSRF itself, and is never
  reached with a token header);
- ``MessageMiddleware``: the API sends no flash messages.

Everything else stays, in the same order: the security headers (``SecurityMiddleware``,
``XFrameOptionsMiddleware``), the request bounds, language negotiation (error details are in
the caller's language), ``CommonMiddleware``, the refusal log and axes. A token request's
answer (status, headers, body) is the full handler's: ``tests/api/test_token_lane.py``. Without
the token header (the web UI's session calls, sign-in, the schema) nothing changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "highseas.config.settings")
application_for_everything = get_wsgi_application()

TOKEN_LANE_SKIPS = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    }
)
TOKEN_LANE_PATHS = "/api/v1/"
NOT_IN_TOKEN_LANE = "/api/v1/auth/"  # sign-in and token management keep the full chain


class TokenLaneHandler(WSGIHandler):
    """Django's WSGI handler with ``settings.MIDDLEWARE`` less ``TOKEN_LANE_SKIPS``."""

    def load_middleware(self, is_async: bool = False) -> None:
        everything = settings.MIDDLEWARE
        settings.MIDDLEWARE = [name for name in everything if name not in TOKEN_LANE_SKIPS]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = everything


token_lane = TokenLaneHandler()


def in_token_lane(environ: dict[str, Any]) -> bool:
    """An API request knox decides: a ``Token`` authorization header on ``/api/v1/``."""
    path: str = environ.get("PATH_INFO", "")
    return (
        environ.get("HTTP_AUTHORIZATION", "").startswith("Token ")
        and path.startswith(TOKEN_LANE_PATHS)
        and not path.startswith(NOT_IN_TOKEN_LANE)
    )


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if in_token_lane(environ):
        return token_lane(environ, start_response)
    return application_for_everything(environ, start_response)
