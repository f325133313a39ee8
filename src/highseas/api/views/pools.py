from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import mixins, viewsets

from highseas.api.permissions import IsAdminOrReadOnly
from highseas.api.serializers.pools import PoolSerializer
from highseas.api.views.base import viewer_of
from highseas.pools.models import Pool


class PoolViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Pool],
):
    serializer_class = PoolSerializer
    permission_classes = [IsAdminOrReadOnly]
    queryset = Pool.objects.none()

    def get_queryset(self) -> QuerySet[Pool]:
        return (
            viewer_of(self.request)
            .pools()
            .select_related("claim_policy", "recycle_policy")
            .prefetch_related("member_teams", "member_users", "admins")
        )
