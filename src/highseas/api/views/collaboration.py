"""Tasks (``tasks/``) and a customer's comments (``customers/{id}/comments/``): thin adapters
over ``pools.collaboration``, which decides who may assign, read, edit and mention."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from highseas.api.serializers.collaboration import (
    CommentSerializer,
    TaskCreateInput,
    TaskFilters,
    TaskSerializer,
    TaskUpdateInput,
)
from highseas.api.views.base import viewer_of
from highseas.customers.models import Task
from highseas.engine.bounds import parse_id
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import collaboration


def _id(raw: str, message: str) -> int:
    if (value := parse_id(raw)) is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, message)
    return value


@extend_schema_view(
    list=extend_schema(
        summary="Tasks I may read: open first, overdue first, then by due time",
        parameters=[
            OpenApiParameter("assignee", int),
            OpenApiParameter("customer", int),
            OpenApiParameter("done", bool),
            OpenApiParameter("overdue", bool),
        ],
        responses={200: TaskSerializer(many=True)},
    ),
    create=extend_schema(request=TaskCreateInput, responses={201: TaskSerializer}),
    retrieve=extend_schema(responses={200: TaskSerializer}),
    partial_update=extend_schema(request=TaskUpdateInput, responses={200: TaskSerializer}),
)
class TaskViewSet(viewsets.GenericViewSet[Task]):
    serializer_class = TaskSerializer
    queryset = Task.objects.none()
    pagination_class = None

    def list(self, request: Request) -> Response:
        filters = TaskFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = collaboration.list_tasks(
            viewer_of(request),
            assignee_id=filters.validated_data.get("assignee"),
            customer_id=filters.validated_data.get("customer"),
            done=filters.validated_data.get("done"),
            overdue=filters.validated_data.get("overdue"),
        )
        return Response(TaskSerializer(rows, many=True).data)

    def create(self, request: Request) -> Response:
        data = TaskCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(data.validated_data)
        task = collaboration.create_task(
            viewer_of(request),
            title=fields["title"],
            customer_id=fields["customer"],
            assignee_id=fields["assignee"],
            due_at=fields["due_at"],
            priority=fields["priority"],
            done=fields["done"],
        )
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        task = collaboration.task_of(viewer_of(request), _id(pk, _("No such task.")))
        return Response(TaskSerializer(task).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        data = TaskUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = collaboration.update_task(
            viewer_of(request), _id(pk, _("No such task.")), data.validated_data
        )
        return Response(TaskSerializer(task).data)


class CommentActions(viewsets.GenericViewSet[Any]):
    """Mixed into the customer view set."""

    @extend_schema(methods=["GET"], responses={200: CommentSerializer(many=True)})
    @extend_schema(methods=["POST"], request=CommentSerializer, responses={201: CommentSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def comments(self, request: Request, pk: str) -> Response:
        customer_id = _id(pk, _("No such customer."))
        if request.method == "GET":
            rows = collaboration.comments(viewer_of(request), customer_id)
            return Response(CommentSerializer(rows, many=True).data)
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = collaboration.add_comment(
            viewer_of(request), customer_id, data.validated_data["body"]
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
