"""Follow-ups, deals and contacts of one customer (nested under ``customers/{id}/``)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from highseas.api.serializers.followups import (
    ActivitySerializer,
    ContactSerializer,
    DealSerializer,
    DealStageInput,
)
from highseas.api.views.base import viewer_of
from highseas.customers import timeline
from highseas.engine.bounds import parse_id
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import followups


def _customer_id(raw: str) -> int:
    if (customer_id := parse_id(raw)) is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    return customer_id


class FollowUpActions(viewsets.GenericViewSet[Any]):
    """Mixed into the customer view set; reads come from ``customers.timeline``."""

    @extend_schema(methods=["GET"], responses={200: ActivitySerializer(many=True)})
    @extend_schema(
        methods=["POST"], request=ActivitySerializer, responses={201: ActivitySerializer}
    )
    @action(detail=True, methods=["get", "post"])
    def activities(self, request: Request, pk: str) -> Response:
        if request.method == "GET":
            rows = timeline.activities(viewer_of(request), _customer_id(pk))
            return Response(ActivitySerializer(rows, many=True).data)
        customer = self.get_object()
        data = ActivitySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity = followups.log_activity(
            viewer_of(request).user, customer.pk, **data.validated_data
        )
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses={200: DealSerializer(many=True)})
    @extend_schema(methods=["POST"], request=DealSerializer, responses={201: DealSerializer})
    @action(detail=True, methods=["get", "post"])
    def deals(self, request: Request, pk: str) -> Response:
        if request.method == "GET":
            rows = timeline.deals(viewer_of(request), _customer_id(pk))
            return Response(DealSerializer(rows, many=True).data)
        customer = self.get_object()
        data = DealSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deal = followups.open_deal(viewer_of(request).user, customer.pk, **data.validated_data)
        return Response(DealSerializer(deal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DealStageInput, responses={200: DealSerializer})
    @action(detail=True, methods=["patch"], url_path=r"deals/(?P<deal_id>[0-9]{1,18})")
    def deal(self, request: Request, pk: str, deal_id: str) -> Response:
        customer = self.get_object()
        data = DealStageInput(data=request.data)
        data.is_valid(raise_exception=True)
        deal = followups.close_deal(
            viewer_of(request).user, customer.pk, int(deal_id), **data.validated_data
        )
        return Response(DealSerializer(deal).data)

    @extend_schema(methods=["GET"], responses={200: ContactSerializer(many=True)})
    @extend_schema(methods=["POST"], request=ContactSerializer, responses={201: ContactSerializer})
    @action(detail=True, methods=["get", "post"])
    def contacts(self, request: Request, pk: str) -> Response:
        if request.method == "GET":
            return Response(timeline.contacts(viewer_of(request), _customer_id(pk)))
        customer = self.get_object()
        data = ContactSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = followups.add_contact(viewer_of(request).user, customer.pk, **data.validated_data)
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)
