"""The API's router: a numeric id in a path is 1–18 ASCII digits, or the path is not found.

Python's ``int`` and ``str.isdigit`` accept ``¹`` or ``٣``, and an id past the database's
64-bit integers cannot be compared; the URL pattern refuses both (404) before a view runs.
Viewsets whose primary key is not an automatic integer keep DRF's default pattern."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.db.models.fields import AutoFieldMixin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from rest_framework.routers import DefaultRouter

from highseas.engine.errors import ErrorCode

ID_PATTERN = "[0-9]{1,18}"


class IdRouter(DefaultRouter):
    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        queryset = getattr(viewset, "queryset", None)
        numeric = queryset is not None and isinstance(queryset.model._meta.pk, AutoFieldMixin)
        if numeric and getattr(viewset, "lookup_field", "pk") == "pk":
            return f"(?P<{lookup_prefix}pk>{ID_PATTERN})"
        return super().get_lookup_regex(viewset, lookup_prefix)


PLAIN_PREFIX = re.compile(r"[A-Za-z0-9_/-]+")
FORMAT_GROUP = "(?P<format>"


def format_as_query(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``view`` for a route with a format suffix (``customers/1/claim.json``), handed the
    suffix as the ``format`` query parameter rather than a keyword argument.

    DRF passes the suffix to the handler as ``format=…``, and an action that takes no such
    argument (``claim(self, request, pk)``) failed with a ``TypeError``: a 500 page. Its content
    negotiation reads the suffix or, failing that, the same query parameter, so the answer's
    format is the one the suffix asked for."""

    @wraps(view)
    def suffixed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        suffix = kwargs.pop("format", None)
        if suffix is not None:
            query = request.GET.copy()
            query["format"] = suffix
            query._mutable = False
            request.GET = query  # type: ignore[assignment]  # immutable again, as Django's
        return view(request, *args, **kwargs)

    return suffixed


def by_prefix(
    router: DefaultRouter, first: Sequence[str] = (), hot: Sequence[str] = ()
) -> list[URLPattern | URLResolver]:
    """``router.urls``, the routes of each registered prefix behind one ``path`` for it.

    Django tries a request's path against each pattern in turn, and the router's are about 90
    regular expressions (each route twice, with and without a format suffix): a claim, near
    the middle, was tried against about 40 of them first. Grouped, a path is tried against one
    pattern per prefix (``customers/``), then only its prefix's routes; a prefix's list with a
    format suffix (``customers.json``) stays as it was, after the groups. The prefixes in ``first``
    come first (no other prefix or explicit path starts like them, so the order changes which
    pattern is tried first, never which one matches); so do the routes named in ``hot`` within
    their prefix (each route of a prefix is anchored at both ends, and no two match one path).
    A route with a format suffix gets it as a query parameter (``format_as_query``).
    The routes, their names and what each
    matches are the router's: ``tests/api/test_url_dispatch.py``."""
    prefixes = [prefix for prefix, _, _ in router.registry if PLAIN_PREFIX.fullmatch(prefix)]
    grouped: dict[str, list[URLPattern | URLResolver]] = {prefix: [] for prefix in prefixes}
    rest: list[URLPattern | URLResolver] = []
    longest_first = sorted(prefixes, key=len, reverse=True)
    for pattern in router.urls:
        regex = str(pattern.pattern.regex.pattern)
        owner = next((p for p in longest_first if regex.startswith(f"^{p}/")), None)
        if owner is None or not isinstance(pattern, URLPattern):
            listed = any(regex.startswith(f"^{p}\\.") for p in prefixes)
            rest.append(_suffix_as_query(pattern) if listed else pattern)
            continue
        inner = "^" + regex[len(owner) + 2 :]
        named = {"name": pattern.name} if pattern.name else {}
        view = format_as_query(pattern.callback) if FORMAT_GROUP in inner else pattern.callback
        grouped[owner].append(re_path(inner, view, pattern.default_args, **named))
    for routes in grouped.values():
        routes.sort(key=lambda route: getattr(route, "name", None) not in hot)  # stable
    ordered = [*(p for p in first if p in grouped), *(p for p in prefixes if p not in first)]
    return [*(path(f"{prefix}/", include(grouped[prefix])) for prefix in ordered), *rest]


def _suffix_as_query(pattern: URLPattern | URLResolver) -> URLPattern | URLResolver:
    """A prefix's list route with a format suffix (``tasks.json``), which stays ungrouped, with
    its suffix handed over as a query parameter, as the grouped routes get it (the API root
    keeps its ``format`` keyword: it builds its links with it)."""
    if not isinstance(pattern, URLPattern) or FORMAT_GROUP not in str(pattern.pattern):
        return pattern
    callback = format_as_query(pattern.callback)
    return URLPattern(pattern.pattern, callback, pattern.default_args, pattern.name)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 handler: an API path no pattern matches (``customers/x/claim/``) answers
    in the API's error shape; other paths get Django's page."""
    if request.path.startswith("/api/"):
        body = {"code": ErrorCode.NOT_FOUND.value, "detail": _("Not found.")}
        return JsonResponse(body, status=404)
    return page_not_found(request, exception)
