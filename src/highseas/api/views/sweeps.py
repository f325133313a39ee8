"""``POST /api/v1/sweeps/`` — run or preview a sweep; ``POST /api/v1/pools/{id}/recycle-preview/``
— what proposed recycle settings would take back."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.accounts.visibility import Viewer
from highseas.api.views.base import viewer_of
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.sweep import Scope, sweep

TIME_TRAVEL_SLACK_SECONDS = 60


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


def require_manager(viewer: Viewer) -> None:
    if not (viewer.is_admin or viewer.user.is_manager):
        raise HighSeasError(ErrorCode.PERMISSION_DENIED, _("Only managers may run sweeps."))


def jsonable(data: dict[str, Any]) -> Any:
    import json

    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


class SweepView(APIView):
    """Run a sweep now, or preview one at any moment with ``dry_run``. A real sweep at another
    moment needs ``HIGHSEAS_ALLOW_TIME_TRAVEL=1``. Managers preview their own pools."""

    @extend_schema(request=SweepInput, responses={200: SweepOutput})
    def post(self, request: Request) -> Response:
        viewer = viewer_of(request)
        require_manager(viewer)
        data = SweepInput(data=request.data)
        data.is_valid(raise_exception=True)
        now, dry_run = data.validated_data["now"], data.validated_data["dry_run"]
        pool = data.validated_data["pool"]
        if pool is not None and not viewer.is_admin and pool not in viewer.member_pool_ids:
            raise HighSeasError(ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."))
        moved = now is not None and abs((now - timezone.now()).total_seconds()) > (
            TIME_TRAVEL_SLACK_SECONDS
        )
        if moved and not dry_run and not settings.ALLOW_TIME_TRAVEL:
            raise HighSeasError(
                ErrorCode.VALIDATION_ERROR,
                _("A real sweep at another time is not allowed here."),
                errors={"now": ["time travel is off"]},
            )
        report = sweep(
            now, dry_run=dry_run, scope=Scope(pool_id=pool, owner_id=data.validated_data["owner"])
        )
        return Response(jsonable(report.as_dict()))
