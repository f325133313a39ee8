"""``GET /api/v1/reps/?q=``: the people the caller may give customers to or filter the
console by, matching ``q`` (name, username, pinyin or initials), for the rep picker
(选择负责人). Managers and admins; ``pools.receivers`` decides who is listed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.api.views.base import viewer_of
from highseas.engine.bounds import parse_id
from highseas.pools.receivers import PICK_LIMIT, find_receivers


class RepChoiceSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named label
    username = serializers.CharField()
    team = serializers.CharField(help_text="the team's name; empty without a team")
    holdings = serializers.IntegerField(help_text="customers held (owned or frozen)")


class RepChoicesSerializer(serializers.Serializer[Any]):
    results = RepChoiceSerializer(many=True)


class RepSearchView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="name, username, pinyin or initials"),
            OpenApiParameter("limit", int, description=f"1–{PICK_LIMIT}"),
        ],
        responses={200: RepChoicesSerializer},
    )
    def get(self, request: Request) -> Response:
        limit = parse_id(request.query_params.get("limit") or "") or PICK_LIMIT
        found = find_receivers(viewer_of(request), request.query_params.get("q", ""), limit=limit)
        return Response({"results": [asdict(choice) for choice in found]})
