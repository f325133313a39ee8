"""``GET /api/v1/audit-log/?action=&actor=&since=`` (SPEC §10, §13): the append-only audit log,
newest first, keyset-paginated; admins read every row, managers their subtree's."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers

from highseas.accounts.audit import audit_entries, target_of
from highseas.accounts.models import AuditLog
from highseas.api.views.base import viewer_of


class AuditActorSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class AuditTargetSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    id = serializers.CharField()


class AuditEntrySerializer(serializers.ModelSerializer[AuditLog]):
    actor = AuditActorSerializer(allow_null=True)
    target = serializers.SerializerMethodField()

    class Meta:
        model = AuditLog
        fields = ["id", "at", "actor", "action", "target", "detail", "address"]
        read_only_fields = fields

    def get_target(self, row: AuditLog) -> dict[str, str] | None:
        return target_of(row)


AuditEntrySerializer.get_target = extend_schema(  # type: ignore[method-assign]
    responses=AuditTargetSerializer(allow_null=True)
)(AuditEntrySerializer.get_target)


@extend_schema(
    summary="The audit log, newest first",
    parameters=[
        OpenApiParameter("action", str, enum=AuditLog.Action.values),
        OpenApiParameter("actor", str, description="a user id or username"),
        OpenApiParameter("since", str, description="an ISO date or time"),
    ],
)
class AuditLogView(generics.ListAPIView[AuditLog]):
    serializer_class = AuditEntrySerializer
    queryset = AuditLog.objects.none()

    def get_queryset(self) -> Any:
        params = self.request.query_params
        return audit_entries(
            viewer_of(self.request),
            action=params.get("action"),
            actor=params.get("actor"),
            since=params.get("since"),
        )
