"""``GET /api/v1/search/?q=``: public search (公共检索) for every signed-in user (SPEC §8),
through ``pools.lookups`` (a full phone, e-mail or credit code counts as an exact lookup).

Answers with basic fields and the public status only (``customers.public``), newest first,
keyset-paginated: ``next`` carries ``cursor`` (the last id of the page)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.api.serializers.dedup import SearchPageSerializer
from highseas.api.views.base import viewer_of
from highseas.engine.bounds import parse_id
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.lookups import public_search

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def _number(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name) or ""
    if not raw:
        return default
    if (number := parse_id(raw)) is None:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR, _("Use a positive number."), errors={name: ["invalid"]}
        )
    return number


class SearchView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="name, phone, e-mail or code"),
            OpenApiParameter("cursor", int, description="from the previous page's next"),
            OpenApiParameter("page_size", int, description=f"1–{MAX_PAGE_SIZE}"),
        ],
        responses={200: SearchPageSerializer},
    )
    def get(self, request: Request) -> Response:
        text = request.query_params.get("q", "").strip()
        if not text:
            raise HighSeasError(
                ErrorCode.VALIDATION_ERROR, _("Say what to search for."), errors={"q": ["required"]}
            )
        size = min(_number(request, "page_size", DEFAULT_PAGE_SIZE) or 1, MAX_PAGE_SIZE)
        page = public_search(
            viewer_of(request),
            text,
            before=_number(request, "cursor", None),
            limit=size,
            address=request.META.get("REMOTE_ADDR") or None,
        )
        next_url = None
        if page.next_before is not None:
            query = request.query_params.copy()
            query["cursor"] = str(page.next_before)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response({"results": page.rows, "next": next_url})
