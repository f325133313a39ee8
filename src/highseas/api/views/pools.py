from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from highseas.api.serializers.pools import PoolSerializer, RecyclePolicySerializer
from highseas.api.views.base import viewer_of
from highseas.api.views.sweeps import jsonable
from highseas.pools.listing import listable_pools
from highseas.pools.models import Pool
from highseas.pools.policy_edits import change_pool, require_pool_change
from highseas.pools.reports import recycle_preview, require_report_reader


class RecyclePreviewInput(serializers.Serializer[None]):
    recycle_policy = serializers.DictField(required=False, default=dict)
    days = serializers.IntegerField(min_value=1, max_value=365, default=7)
    now = serializers.DateTimeField(required=False, allow_null=True, default=None)


class PoolPreviewActions(viewsets.GenericViewSet[Pool]):
    @extend_schema(request=RecyclePreviewInput, responses={200: dict})
    @action(
        detail=True,
        methods=["post"],
        url_path="recycle-preview",
        permission_classes=[IsAuthenticated],
    )
    def recycle_preview(self, request: Request, pk: str) -> Response:
        """What these recycle settings would take back in the next N days, before saving,
        among the pool's customers the caller sees in full."""
        viewer = viewer_of(request)
        require_report_reader(viewer)
        data = RecyclePreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        checked = RecyclePolicySerializer(data=data.validated_data["recycle_policy"], partial=True)
        checked.is_valid(raise_exception=True)
        preview = recycle_preview(
            viewer,
            int(pk) if str(pk).isdigit() else 0,
            dict(checked.validated_data),
            days=data.validated_data["days"],
            now=data.validated_data["now"],
        )
        return Response(jsonable(asdict(preview)))


class PoolViewSet(
    PoolPreviewActions,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Pool],
):
    """Pools: everyone reads the pools they belong to; admins create and change pools; a
    pool's admins change its claim and recycle policies (``pools.policy_edits``)."""

    serializer_class = PoolSerializer
    permission_classes = [IsAuthenticated]
    queryset = Pool.objects.none()

    def get_queryset(self) -> QuerySet[Pool]:
        return (
            listable_pools(viewer_of(self.request))
            .select_related("claim_policy", "recycle_policy")
            .prefetch_related("member_teams", "member_users", "admins")
        )

    def _named_fields(self, request: Request) -> set[str]:
        return set(request.data) & set(PoolSerializer().fields)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require_pool_change(viewer_of(request), None, self._named_fields(request))
        return super().create(request, *args, **kwargs)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require_pool_change(viewer_of(request), self.get_object(), self._named_fields(request))
        return super().update(request, *args, **kwargs)

    def perform_create(self, serializer: BaseSerializer[Pool]) -> None:
        serializer.instance = change_pool(
            viewer_of(self.request), None, dict(serializer.validated_data)
        )

    def perform_update(self, serializer: BaseSerializer[Pool]) -> None:
        assert serializer.instance is not None
        serializer.instance = change_pool(
            viewer_of(self.request), serializer.instance, dict(serializer.validated_data)
        )
