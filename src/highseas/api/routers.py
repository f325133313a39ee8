"""The API's router: a numeric id in a path is 1–18 ASCII digits, or the path is not found.

Python's ``int`` and ``str.isdigit`` accept ``¹`` or ``٣``, and an id past the database's
64-bit integers cannot be compared; the URL pattern refuses both (404) before a view runs.
Viewsets whose primary key is not an automatic integer keep DRF's default pattern."""

from __future__ import annotations

from typing import Any

from django.db.models.fields import AutoFieldMixin
from django.http import HttpRequest, HttpResponse, JsonResponse
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


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 handler: an API path no pattern matches (``customers/x/claim/``) answers
    in the API's error shape; other paths get Django's page."""
    if request.path.startswith("/api/"):
        body = {"code": ErrorCode.NOT_FOUND.value, "detail": _("Not found.")}
        return JsonResponse(body, status=404)
    return page_not_found(request, exception)
