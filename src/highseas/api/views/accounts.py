from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from highseas.accounts.models import Team, User
from highseas.api.permissions import IsAdminOrReadOnly
from highseas.api.serializers.accounts import (
    HandoverInput,
    HandoverResultSerializer,
    LeaveInput,
    LeaveSerializer,
    ScheduledHandoverSerializer,
    TeamSerializer,
    UserSerializer,
)
from highseas.api.views.base import viewer_of
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.leave import record_leave
from highseas.routing.handover import handover
from highseas.routing.scheduled import schedule_handover


class TeamViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Team],
):
    serializer_class = TeamSerializer
    permission_classes = [IsAdminOrReadOnly]
    queryset = Team.objects.all()


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[User],
):
    serializer_class = UserSerializer
    permission_classes = [IsAdminOrReadOnly]
    queryset = User.objects.none()

    def get_queryset(self) -> QuerySet[User]:
        return viewer_of(self.request).users().select_related("profile")

    @extend_schema(
        request=HandoverInput,
        responses={200: HandoverResultSerializer, 202: ScheduledHandoverSerializer},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def handover(self, request: Request, pk: str) -> Response:
        """Departure handover (离职交接): every customer the user owns goes to a colleague, through
        the assignment rules or back to its pool; ``dry_run`` previews exactly what a run does.
        With ``at``, the run is scheduled for then (202, ``{"scheduled": …}``). Managers for the
        reps they manage, admins for anyone; rerun to resume."""
        if not pk.isdigit():
            raise HighSeasError(ErrorCode.NOT_FOUND, _("No such user."))
        data = HandoverInput(data=request.data)
        data.is_valid(raise_exception=True)
        at = data.validated_data.get("at")
        if at is not None and not data.validated_data["dry_run"]:
            row = schedule_handover(
                viewer_of(request), int(pk), to=data.validated_data["to"], at=at
            )
            return Response({"scheduled": ScheduledHandoverSerializer(row).data}, status=202)
        report = handover(
            viewer_of(request),
            int(pk),
            to=data.validated_data["to"],
            dry_run=data.validated_data["dry_run"],
        )
        return Response(report.as_dict())

    @extend_schema(request=LeaveInput, responses={200: LeaveSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def leave(self, request: Request, pk: str) -> Response:
        """Record a rep's leave (休假) and its cover colleague; their customers' recycle
        schedules follow in the same transaction. The rep's manager or an admin."""
        if not pk.isdigit():
            raise HighSeasError(ErrorCode.NOT_FOUND, _("No such user."))
        data = LeaveInput(data=request.data)
        data.is_valid(raise_exception=True)
        profile = record_leave(
            viewer_of(request),
            int(pk),
            leave_from=data.validated_data["leave_from"],
            leave_until=data.validated_data["leave_until"],
            cover_id=data.validated_data.get("cover"),
        )
        return Response(LeaveSerializer(profile).data)
