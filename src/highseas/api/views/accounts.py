from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import mixins, viewsets

from highseas.accounts.models import Team, User
from highseas.api.permissions import IsAdminOrReadOnly
from highseas.api.serializers.accounts import TeamSerializer, UserSerializer
from highseas.api.views.base import viewer_of


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
