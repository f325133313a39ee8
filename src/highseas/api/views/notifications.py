"""My notifications: the inbox (newest first, ``?unread=1``), mark one read, mark all read;
my notification settings (``preferences/``: read and change, my own only)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from highseas.api.serializers.notifications import (
    MarkedReadSerializer,
    NotificationPreferencesSerializer,
    NotificationSerializer,
)
from highseas.api.views.base import viewer_of
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify import services
from highseas.notify.inbox import notifications_of
from highseas.notify.models import Notification
from highseas.notify.preferences import save_preferences, settings_of

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off"}


def _unread_filter(raw: str | None) -> bool | None:
    if raw is None or raw == "":
        return None
    if raw.lower() in TRUE_VALUES | FALSE_VALUES:
        return raw.lower() in TRUE_VALUES
    raise HighSeasError(
        ErrorCode.VALIDATION_ERROR,
        _("The unread filter takes 1 or 0."),
        errors={"unread": ["expected 1 or 0"]},
    )


@extend_schema_view(
    list=extend_schema(
        summary="My notifications, newest first",
        parameters=[
            OpenApiParameter(
                "unread", bool, description="1: only unread; 0: only read; absent: all"
            )
        ],
    ),
)
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Notification]):
    """The caller's own notifications; nobody reads another user's."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()

    def get_queryset(self) -> QuerySet[Notification]:
        unread = _unread_filter(self.request.query_params.get("unread"))
        return notifications_of(viewer_of(self.request), unread=unread)

    @extend_schema(
        summary="Mark one of my notifications read",
        request=None,
        responses={200: NotificationSerializer},
    )
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        if not str(pk).isdigit():
            raise HighSeasError(ErrorCode.NOT_FOUND, _("No such notification."))
        notification = services.mark_read(viewer_of(request).user, int(pk), timezone.now())
        return Response(NotificationSerializer(notification).data)

    @extend_schema(
        summary="Mark all my notifications read",
        request=None,
        responses={200: MarkedReadSerializer},
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        count = services.mark_all_read(viewer_of(request).user, timezone.now())
        return Response({"marked_read": count})

    @extend_schema(
        methods=["GET"],
        summary="My notification settings",
        responses={200: NotificationPreferencesSerializer},
    )
    @extend_schema(
        methods=["PATCH"],
        summary="Change my notification settings (an unknown or read-only field is refused)",
        request=NotificationPreferencesSerializer,
        responses={200: NotificationPreferencesSerializer},
    )
    @action(detail=False, methods=["get", "patch"], url_path="preferences")
    def preferences(self, request: Request) -> Response:
        viewer = viewer_of(request)
        if request.method == "PATCH":
            parsed = NotificationPreferencesSerializer(data=request.data, partial=True)
            parsed.is_valid(raise_exception=True)
            writable = {name for name, field in parsed.fields.items() if not field.read_only}
            forged = {name: request.data[name] for name in request.data if name not in writable}
            changes = {**parsed.validated_data, **forged}  # the service refuses the forged
            save_preferences(viewer, viewer.user.pk, changes, timezone.now())
        return Response(NotificationPreferencesSerializer(settings_of(viewer)).data)
