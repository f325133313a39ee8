"""``GET /api/v1/exports/customers/`` and ``/exports/activities/``: a CSV or XLSX download of
what the caller may see, masked as they see it (``customers.exports.start_export``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from highseas.api.views.base import viewer_of
from highseas.customers.export_files import CONTENT_TYPES, http_response
from highseas.customers.exports import ExportFilters, ExportFormat, ExportKind, start_export


class FormatNamesTheFile(BaseContentNegotiation):
    """``?format=`` names the file's format here, not a renderer: answers other than the
    file itself (errors) are JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> Any:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


PARAMETERS = [
    OpenApiParameter(
        "format", str, enum=[f.value for f in ExportFormat], description="csv (default) or xlsx"
    ),
    OpenApiParameter("status", str, description="one status, or several comma-separated"),
    *(OpenApiParameter(name, int) for name in ("pool", "owner")),
    *(
        OpenApiParameter(name, str)
        for name in ("province", "city", "industry", "level", "source", "stage")
    ),
    OpenApiParameter("q", str, description="name contains"),
    OpenApiParameter("due", int, description="recycle due within this many days"),
]
FILES = {
    (200, CONTENT_TYPES[f]): OpenApiResponse(OpenApiTypes.BINARY, description=f"{f.value} file")
    for f in ExportFormat
}


class ExportView(APIView):
    """A download of the caller's visible customers (or their follow-ups), filtered like the
    customer list. Fields arrive masked as the caller sees them; follow-ups only of customers
    the caller sees in full; a rep's export holds their own customers unless the deployment
    allows more. Every export is audit-logged. Chinese headers by default (``Accept-Language:
    en`` for English); CSV is UTF-8 with a byte-order mark."""

    kind = ExportKind.CUSTOMERS
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FormatNamesTheFile

    def get(self, request: Request) -> HttpResponseBase:
        export = start_export(
            viewer_of(request),
            self.kind,
            filters=ExportFilters.parse(request.query_params),
            file_format=request.query_params.get("format") or ExportFormat.CSV,
            address=request.META.get("REMOTE_ADDR"),
        )
        return http_response(export)


@extend_schema(parameters=PARAMETERS, responses=FILES)
class CustomerExportView(ExportView):
    kind = ExportKind.CUSTOMERS


@extend_schema(parameters=PARAMETERS, responses=FILES)
class ActivityExportView(ExportView):
    kind = ExportKind.ACTIVITIES
