"""``POST /api/v1/sweeps/`` — run or preview a sweep, scoped to the caller
(``pools.reports.sweep_report``)."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.api.views.base import viewer_of
from highseas.pools.reports import sweep_report


class SweepInput(serializers.Serializer[None]):
    dry_run = serializers.BooleanField(default=True)
    now = serializers.DateTimeField(required=False, allow_null=True, default=None)
    pool = serializers.IntegerField(required=False, allow_null=True, default=None)
    owner = serializers.IntegerField(required=False, allow_null=True, default=None)


SweepOutput = inline_serializer(
    "SweepReport",
    {
        "recycled": serializers.ListField(child=serializers.DictField()),
        "warned": serializers.ListField(child=serializers.DictField()),
        "unfrozen": serializers.ListField(child=serializers.IntegerField()),
        "summary": serializers.DictField(),
    },
)


def jsonable(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


class SweepView(APIView):
    """Run a sweep now, or preview one at any moment with ``dry_run``. A real sweep at another
    moment needs ``HIGHSEAS_ALLOW_TIME_TRAVEL=1``. A manager's sweep covers the customers held
    in their team subtree, of the pools they belong to; an admin's covers everything."""

    @extend_schema(request=SweepInput, responses={200: SweepOutput})
    def post(self, request: Request) -> Response:
        viewer = viewer_of(request)
        data = SweepInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = sweep_report(viewer, **data.validated_data)
        return Response(jsonable(report.as_dict()))
